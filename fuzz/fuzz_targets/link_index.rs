#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bioner::fuzzing::link_index(data));
