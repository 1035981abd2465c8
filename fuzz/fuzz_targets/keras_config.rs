#![no_main]
//! `cargo +nightly fuzz run keras_config`: see [`thaw_fuzz::keras_config`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::keras_config(data));
