//! Randomness for masking keys and `Sec-WebSocket-Key`s: the caller's choice of
//! [`rand_core::Rng`], with an OS-seeded default under `std`.

use alloc::boxed::Box;

/// The random source a client connection draws masking keys from.
pub(crate) type BoxedRng = Box<dyn rand_core::Rng + Send>;

/// The default random source under `std`: ChaCha12 seeded once from the operating system.
///
/// RFC 6455 §10.3 asks for masking keys that the application cannot predict. A ChaCha12
/// stream keyed from `getrandom` is unpredictable, and costs a few nanoseconds per masking
/// key instead of a system call.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct SystemRng(chacha20::ChaCha12Rng);

#[cfg(feature = "std")]
impl SystemRng {
    /// A generator seeded from the operating system.
    ///
    /// # Panics
    /// If the operating system's random source fails, which leaves no safe way to mask.
    pub fn new() -> SystemRng {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random source failed");
        SystemRng(rand_core::SeedableRng::from_seed(seed))
    }
}

#[cfg(feature = "std")]
impl Default for SystemRng {
    fn default() -> SystemRng {
        SystemRng::new()
    }
}

#[cfg(feature = "std")]
impl rand_core::TryRng for SystemRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.try_fill_bytes(dst)
    }
}

#[cfg(feature = "std")]
impl rand_core::TryCryptoRng for SystemRng {}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn system_rng_gives_different_keys() {
        let mut rng = SystemRng::new();
        // Two generators are seeded independently.
        assert_ne!(SystemRng::new().next_u64(), SystemRng::new().next_u64());
        let keys: alloc::vec::Vec<u32> = (0..40).map(|_| rng.next_u32()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 40 draws of 32 random bits colliding is a 1-in-10^7 event.
        assert!(distinct.len() >= 39);
    }
}
