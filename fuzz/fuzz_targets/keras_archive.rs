#![no_main]
//! `cargo +nightly fuzz run keras_archive`: see [`thaw_fuzz::keras_archive`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::keras_archive(data));
