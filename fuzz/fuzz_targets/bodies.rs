//! See `memo_fuzz::check_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memo_fuzz::check_body(data));
