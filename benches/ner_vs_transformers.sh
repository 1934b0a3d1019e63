#!/usr/bin/env bash
# Side by side on one split, one run: bioner's model (a trained model directory) and the
# Hugging Face transformers token-classification fine-tuning of the same encoder with the same
# epoch budget (benches/hf_token_classification.py), both scored by bioner's strict scorer on
# the test split's gold mentions (character offsets).
#
#   benches/ner_vs_transformers.sh bc5cdr models/results/bc5cdr-full-s1 3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
corpus="$1"; model="$2"; epochs="${3:-3}"
BIN=target/release/bioner
BIONER_SETUP_NO_BUILD=1 ops/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check "transformers==4.57.1" "seqeval==1.2.2"
cargo build --release --quiet
split="data/corpora/$corpus/test"
out="models/results/peer-$corpus"
mkdir -p "$out"

echo "== bioner: $model"
"$BIN" eval --model "$model" --split "$split" --write-mentions "$out/bioner.parquet" > /dev/null
"$BIN" eval --gold "$split/mentions.parquet" --pred "$out/bioner.parquet"

echo "== transformers token classification, same encoder, $epochs epochs"
start=$(date +%s)
.venv/bin/python benches/hf_token_classification.py --corpus "data/corpora/$corpus" \
  --encoder models/all-MiniLM-L6-v2 --epochs "$epochs" --out "$out/transformers.parquet"
echo "wall time $(( $(date +%s) - start ))s"
"$BIN" eval --gold "$split/mentions.parquet" --pred "$out/transformers.parquet"
