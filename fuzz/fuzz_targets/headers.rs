//! See `memo_fuzz::check_headers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memo_fuzz::check_headers(data));
