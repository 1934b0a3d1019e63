#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader (docs/FUZZING.md): libFuzzer through cargo-fuzz on the
# stable toolchain (no sanitizer: that needs nightly; Rust's own checks, overflow checks and
# debug assertions are on). Starts from the committed seeds (fuzz/seeds/TARGET) and the corpus
# of earlier runs (fuzz/corpus/TARGET, git-ignored), writes crashing inputs to
# fuzz/artifacts/TARGET/ and a summary line to fuzz/runs.jsonl.
#
#   ops/fuzz.sh TARGET [SECONDS]        # default 1800 s; TARGET as in fuzz/fuzz_targets/
#   ops/fuzz.sh --list                  # the targets
#   ops/fuzz.sh --build                 # build every target, run nothing
#   FUZZ_ARGS="-jobs=2" ops/fuzz.sh T   # extra libFuzzer flags
#
# parquet_source runs in libFuzzer's fork mode with -ignore_timeouts=1: the parquet crate's
# Thrift decoder can spin on crafted input (docs/FUZZING.md; bioner's parquet_guard refuses
# the inputs found, fuzz/hangs/parquet_source/), and fork mode goes on past a timeout instead
# of stopping at it. Timeouts are counted in fuzz/runs.jsonl apart from crashes.
#
# A crash: copy the input from fuzz/artifacts/TARGET/ to fuzz/regressions/TARGET/ (the test
# suite replays it, tests/fuzz_regressions.rs), fix the reader, and run the target again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

targets() { ls fuzz/fuzz_targets | sed 's/\.rs$//'; }
if [ "${1:-}" = "--list" ]; then targets; exit 0; fi

# cargo-fuzz into the project's own tool folder (set-up does not install it: only fuzzing
# needs it).
export PATH="$ROOT/.tools/bin:$PATH"
command -v cargo-fuzz > /dev/null || cargo install --quiet --locked --root .tools cargo-fuzz@0.13.2
# libtorch for the bioner library the targets link (as ops/setup.sh makes it).
[ -e .venv/libtorch ] || { echo "run ops/setup.sh first (libtorch comes from .venv)" >&2; exit 1; }
# The targets link libtorch through the library; bioner's build script gives its own binaries
# an rpath, cargo-fuzz's binaries need the path.
export LD_LIBRARY_PATH="$ROOT/.venv/libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

flags=(--sanitizer none --debug-assertions --release)
if [ "${1:-}" = "--build" ]; then
  (cd fuzz && cargo fuzz build "${flags[@]}")
  exit 0
fi

target="${1:?usage: ops/fuzz.sh TARGET [SECONDS] (ops/fuzz.sh --list)}"
seconds="${2:-1800}"
targets | grep -qx -- "$target" || { echo "no fuzz target $target (ops/fuzz.sh --list)" >&2; exit 2; }

corpus="fuzz/corpus/$target"
artifacts="fuzz/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
log="fuzz/logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
mkdir -p fuzz/logs
started=$(date -u +%FT%TZ)
commit="$(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- src fuzz/fuzz_targets fuzz/Cargo.toml fuzz/Cargo.lock)" ] || echo '+changes')"
marker="$(mktemp)"
extra=()
[ "$target" = parquet_source ] && extra=(-fork=1 -ignore_timeouts=1)
# shellcheck disable=SC2206
extra+=(${FUZZ_ARGS:-})
set +e
(cd fuzz && cargo fuzz run "${flags[@]}" "$target" "../$corpus" "../fuzz/seeds/$target" -- \
  -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 "${extra[@]}") > "$log" 2>&1
status=$?
set -e

# The last status line holds the coverage (cov: edges, ft: features) and the corpus size.
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)
# fork mode prints no final stats: the last status line counts the executions
[ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<< "$last")
cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last")
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last")
# (fork mode prints `corp: N`, a plain run `corp: N/SIZE`)
units=$(sed -nE 's/.* corp: ([0-9]+)[\/ ].*/\1/p' <<< "$last")
# Timeouts (ignored in fork mode) and slow units are not crashes.
crashes=$(find "$artifacts" -type f -newer "$marker" ! -name 'timeout-*' ! -name 'slow-unit-*' | wc -l)
rm -f "$marker"
printf '{"target": "%s", "started": "%s", "seconds": %s, "exit": %s, "executions": %s, "edges": %s, "features": %s, "corpus": %s, "artifacts": %s, "commit": "%s", "log": "%s"}\n' \
  "$target" "$started" "$seconds" "$status" "${execs:-null}" "${cov:-null}" "${ft:-null}" \
  "${units:-null}" "$crashes" "$commit" "$log" | tee -a fuzz/runs.jsonl
if [ "$status" -ne 0 ]; then
  echo "== $target: libFuzzer exited $status; the input is in $artifacts/ (log $log)" >&2
  grep -m1 -A12 -E "panicked|ERROR: libFuzzer" "$log" >&2 || tail -20 "$log" >&2
  exit 1
fi
