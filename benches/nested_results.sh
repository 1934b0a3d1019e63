#!/usr/bin/env bash
# GENIA nested (#19 item 5) for one trained model: its test predictions decoded nested (the
# model's own setting) and flat (`bioner eval --overlap flat`), scored by
# benches/nested_report.py (strict P/R/F1 per type, the share of gold mentions in nesting and
# how many of them each decoding finds); the report is printed and kept as
# benches/results/genia-nested-<model>.json (tracked, cited by docs/RESULTS.md).
#
#   benches/nested_results.sh models/results/genia-full-pm3760-s1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
model="${1:?usage: benches/nested_results.sh MODEL_DIR [SPLIT]}"
split="${2:-data/corpora/genia/test}"
BIN="${BIN:-target/release/bioner}"
[ -x "$BIN" ] || { echo "BIN=$BIN is not an executable (cargo build --release)" >&2; exit 1; }
[ -f "$model/bioner.json" ] || { echo "$model: not a model directory (no bioner.json)" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$BIN" eval --model "$model" --split "$split" --write-mentions "$scratch/nested.parquet"
"$BIN" eval --model "$model" --split "$split" --overlap flat --write-mentions "$scratch/flat.parquet"
report=(.venv/bin/python benches/nested_report.py "$split/mentions.parquet"
  "nested=$scratch/nested.parquet" "flat=$scratch/flat.parquet")
"${report[@]}"
mkdir -p benches/results
"${report[@]}" --json > "benches/results/genia-nested-$(basename "$model").json"
echo "wrote benches/results/genia-nested-$(basename "$model").json"
