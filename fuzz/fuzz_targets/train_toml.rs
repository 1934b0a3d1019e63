#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bioner::fuzzing::train_toml(data));
