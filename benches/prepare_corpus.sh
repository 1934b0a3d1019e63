#!/usr/bin/env bash
# Prepares a corpus for `bioner train` and `bioner eval` where its tables are missing, each
# step skipped when its output is there (a fresh machine redoes them all; ~5-15 min): import
# from ../shared/data (BIONER_DATA_DIR), parse (a split parsed before the graph column existed
# is parsed again), augment; ccks2017 in Chinese, with the character-level parser trained
# first when missing. Used by benches/ner_results.sh and benches/ner_vs_transformers.sh.
#
#   BIN=target/release/bioner benches/prepare_corpus.sh bc5cdr
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
c="${1:?usage: benches/prepare_corpus.sh CORPUS}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
BIN="${BIN:-target/release/bioner}"
[ -x "$BIN" ] || { echo "BIN=$BIN is not an executable (cargo build --release)" >&2; exit 1; }

[ -f models/parser/craft.bnrdep ] || "$BIN" parser train
lang=en
[ "$c" = ccks2017 ] && lang=zh
if [ "$lang" = zh ] && [ ! -f models/parser/zh-gsd.bnrdep ]; then
  .venv/bin/python ops/zh_treebank.py --data-dir "$DATA"
  "$BIN" parser train --train data/treebanks/zh-chars/train.conllu --out models/parser/zh-gsd.bnrdep
fi
for s in train dev test; do
  if [ ! -f "data/corpora/$c/$s/sentences.parquet" ] \
     || ! .venv/bin/python -c "import pyarrow.parquet as pq,sys; sys.exit(0 if (pq.read_metadata('data/corpora/$c/$s/sentences.parquet').metadata or {}).get(b'bioner.graph') else 1)"; then
    [ -f "data/corpora/$c/$s/documents.parquet" ] || "$BIN" import "$c" --data-dir "$DATA"
    "$BIN" parse "data/corpora/$c/$s" --lang "$lang"
  fi
done
[ -f "data/augmented/$c/part-00000.parquet" ] || \
  "$BIN" augment --lang "$lang" --corpus "data/corpora/$c/train" --out "data/augmented/$c"
