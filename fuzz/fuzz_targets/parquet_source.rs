#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bioner::fuzzing::parquet_source(data));
