#![no_main]
//! `cargo +nightly fuzz run interp`: see [`thaw_fuzz::interp`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::interp(data));
