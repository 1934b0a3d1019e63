//! Adds an rpath to libtorch's `lib` folder so `cargo run`/`cargo test` work without
//! `LD_LIBRARY_PATH`. LIBTORCH is set by `.cargo/config.toml` (the venv made by `ops/setup.sh`).
//! On another machine (e.g. a GPU host) `LD_LIBRARY_PATH` still takes precedence over RUNPATH.
use std::path::PathBuf;

/// Compiles the C++ shims against libtorch's headers: dynamic int8 linear layers
/// (src/encoder/int8_linear.cpp), bf16 autocast regions (src/encoder/autocast.cpp) and the
/// fused AdamW step (src/train/adamw.cpp); they call PyTorch functions that tch does not bind.
fn shims(libtorch: &std::path::Path) {
    let root = libtorch.canonicalize().unwrap_or(libtorch.to_path_buf());
    println!("cargo:rerun-if-changed=src/encoder/int8_linear.cpp");
    println!("cargo:rerun-if-changed=src/encoder/autocast.cpp");
    println!("cargo:rerun-if-changed=src/train/adamw.cpp");
    cc::Build::new()
        .cpp(true)
        .file("src/encoder/int8_linear.cpp")
        .file("src/encoder/autocast.cpp")
        .file("src/train/adamw.cpp")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag_if_supported("-Wno-unused-parameter")
        .opt_level(2)
        .warnings(false)
        .compile("bioner_shims");
}

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
    shims(&PathBuf::from(&libtorch));
    // Pass it on for `bioner info`.
    println!("cargo:rustc-env=BIONER_LIBTORCH_LIB={}", lib.display());
}
