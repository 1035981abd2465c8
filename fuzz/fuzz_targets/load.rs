#![no_main]
//! `cargo +nightly fuzz run load`: see [`thaw_fuzz::load`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::load(data));
