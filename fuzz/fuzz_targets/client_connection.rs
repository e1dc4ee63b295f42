//! A client `Connection` to a fixed URI with a deterministic key: the server's response and
//! frames come from the input in chunks of its choosing, and so do the application's calls
//! (sends, close, timers). See `sockless_fuzz::drive` for the input layout and the
//! invariants checked; the seeds carry a 101 whose accept key matches
//! `sockless_fuzz::client_key()`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sockless_fuzz::drive::run(sockless::Role::Client, data));
