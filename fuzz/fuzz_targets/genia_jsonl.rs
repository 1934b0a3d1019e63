#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bioner::fuzzing::genia_jsonl(data));
