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
