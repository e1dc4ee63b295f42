//! Randomness for masking keys and `Sec-WebSocket-Key`s: the caller's choice of
//! [`rand_core::Rng`], with an OS-seeded default under `std`.

use alloc::boxed::Box;

/// The random source a client connection draws masking keys from.
pub(crate) type BoxedRng = Box<dyn rand_core::Rng + Send>;

/// The operating system's random source (`getrandom`), read 64 bytes at a time so that a
/// client pays one system call per 16 masking keys rather than one per frame.
///
/// RFC 6455 §10.3 asks for masking keys that the application cannot predict; the OS source
/// is cryptographically strong.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct SystemRng {
    buf: [u8; 64],
    pos: usize,
}

#[cfg(feature = "std")]
impl SystemRng {
    /// A source that reads the OS on first use.
    pub const fn new() -> SystemRng {
        SystemRng {
            buf: [0; 64],
            pos: 64,
        }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        if self.pos + N > self.buf.len() {
            // A failing OS random source leaves no safe way to mask; there is nothing a
            // peer can do to cause this.
            getrandom::fill(&mut self.buf).expect("the operating system's random source failed");
            self.pos = 0;
        }
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        out
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
        Ok(u32::from_ne_bytes(self.take()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from_ne_bytes(self.take()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let word: [u8; 4] = self.take();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
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
        let keys: alloc::vec::Vec<u32> = (0..40).map(|_| rng.next_u32()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 40 draws of 32 random bits colliding is a 1-in-10^7 event.
        assert!(distinct.len() >= 39);
    }
}
