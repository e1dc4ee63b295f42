//! A server `Connection` from the first byte of the client's upgrade request: the request
//! and frames come from the input in chunks of its choosing, and so do the application's
//! answers (accept or reject, sends, close, timers). See `sockless_fuzz::drive` for the
//! input layout and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sockless_fuzz::drive::run(sockless::Role::Server, data));
