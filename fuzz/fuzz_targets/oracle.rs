#![no_main]
//! `cargo +nightly fuzz run oracle`: see [`thaw_fuzz::oracle`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::oracle(data));
