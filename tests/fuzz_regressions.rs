//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and every input a fuzzer found to crash a
//! reader (`fuzz/regressions/<target>/`, kept after the fix) through the fuzz entry points,
//! which panic where a reader crashes or breaks an invariant (docs/FUZZING.md). Also checks
//! that every entry point has its cargo-fuzz target and seeds.

use std::path::Path;

use bioner::fuzzing::TARGETS;

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_has_a_fuzz_binary_and_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut binaries: Vec<String> = files(&root.join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    binaries.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(
        binaries, names,
        "fuzz/fuzz_targets/ and bioner::fuzzing::TARGETS differ"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for name in &names {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            !files(&root.join("seeds").join(name)).is_empty(),
            "no seeds in fuzz/seeds/{name}"
        );
    }
}

#[test]
fn seeds_and_found_crashes_replay_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, run) in TARGETS {
        for kind in ["seeds", "regressions"] {
            for path in files(&root.join(kind).join(name)) {
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{name}: {} panics", path.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed >= TARGETS.len());
}

/// Parquet files on which the fuzzer found the parquet crate to spin (its Thrift decoder, in
/// the footer or a page header) or to exhaust memory (a dictionary page claiming 2^31 values;
/// `oom-*`), docs/FUZZING.md: `bioner::parquet_guard` refuses each one before the crate
/// decodes it. Each runs on its own thread with a deadline, so a regression fails here
/// instead of hanging the suite.
#[test]
fn parquet_files_that_stalled_the_decoder_are_refused_quickly() {
    use bioner::document::TextLimits;
    use bioner::source::parquet::{Columns, ParquetDocuments};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/hangs/parquet_source");
    let hangs = files(&dir);
    assert!(
        hangs.len() >= 10,
        "expected the hang inputs in {}",
        dir.display()
    );
    for path in hangs {
        let data = bytes::Bytes::from(std::fs::read(&path).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let label = path.display().to_string();
        std::thread::spawn(move || {
            let columns = Columns {
                id: "pmid".into(),
                title: "title".into(),
                abstract_text: "abstract".into(),
                passthrough: Vec::new(),
            };
            let limits = TextLimits {
                max_text_bytes: 2_000,
            };
            let outcome = ParquetDocuments::from_reader(data, label, &columns, limits)
                .map(|docs| docs.count());
            let _ = tx.send(outcome.map_err(|e| e.to_string()));
        });
        let outcome = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{}: still decoding after 30 s", path.display()));
        let message = match outcome {
            Err(message) => message,
            Ok(n) => panic!("{}: read ({n} records), not refused", path.display()),
        };
        assert!(
            message.contains("refused before decoding"),
            "{}: {message}",
            path.display()
        );
    }
}
