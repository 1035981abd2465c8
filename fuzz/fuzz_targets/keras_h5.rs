#![no_main]
//! `cargo +nightly fuzz run keras_h5`: see [`thaw_fuzz::keras_h5`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| thaw_fuzz::keras_h5(data));
