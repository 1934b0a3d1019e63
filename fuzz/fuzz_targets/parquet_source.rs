#![no_main]
// The parquet crate panics on some corrupt files instead of returning an error; bioner catches
// those panics and rejects the file (src/source/parquet.rs). libfuzzer-sys aborts on every
// panic, caught or not, so this target installs a silent hook and aborts only on a panic that
// escapes bioner.
static QUIET: std::sync::Once = std::sync::Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if std::panic::catch_unwind(|| bioner::fuzzing::parquet_source(data)).is_err() {
        std::process::abort();
    }
});
