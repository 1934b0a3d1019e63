//! Adds an rpath to libtorch's `lib` folder so `cargo run`/`cargo test` work without
//! `LD_LIBRARY_PATH`. LIBTORCH is set by `.cargo/config.toml` (the venv made by `ops/setup.sh`).
//! On another machine (e.g. a GPU host) `LD_LIBRARY_PATH` still takes precedence over RUNPATH.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        return;
    };
    let lib = PathBuf::from(&libtorch).join("lib");
    // Resolve the .venv/libtorch symlink so the rpath names the real folder.
    let lib = lib.canonicalize().unwrap_or(lib);
    if !lib.join("libtorch_cpu.so").exists() {
        println!(
            "cargo:warning=libtorch not found at {} (run ops/setup.sh)",
            lib.display()
        );
        return;
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // Pass it on for `bioner info`.
    println!("cargo:rustc-env=BIONER_LIBTORCH_LIB={}", lib.display());
}
