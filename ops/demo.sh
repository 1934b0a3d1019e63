#!/usr/bin/env bash
# The main-job command (README): set-up (idempotent), a release build, then bioner on its
# embedded default. Until the pipeline lands (issue: inference pipeline) this shows what the
# installation has: libtorch, librdkafka, the default encoder and its tokenizer.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

BIONER_SETUP_NO_BUILD=1 ops/setup.sh
cargo build --release --quiet
exec target/release/bioner info "$@"
