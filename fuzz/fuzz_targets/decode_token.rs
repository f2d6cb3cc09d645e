//! See `memo_fuzz::check_decode_token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memo_fuzz::check_decode_token(data));
