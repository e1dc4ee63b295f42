//! Support code for the compare bench and the echo servers of `e2e.sh`.
//!
//! [`floor`] is a deliberately minimal codec that the bench measures as the least work a
//! WebSocket endpoint can do on the same bytes; it lives in the library, not in the bench
//! file, so that its unit tests run with `cargo test -p sockless-compare`.

pub mod floor;
