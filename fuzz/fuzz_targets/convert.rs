#![no_main]
//! `cargo +nightly fuzz run convert`: see [`thaw_fuzz::convert`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::convert(data));
