#!/usr/bin/env bash
# The main-job command (README): set-up (idempotent), a release build, then `bioner run` on the
# embedded default: the sample abstracts in pipelines/samples/ (PubMed XML) through the
# default model into entity Parquet tables under out/demo/, with the run summary and an
# example DuckDB query. The parser (models/parser/craft.bnrdep) and the default NER model
# (models/ner-default/, float16) ship with the repository (model cards: models/parser.md,
# models/ner-default.md), so nothing is trained. Only where they are missing does it train
# them, and says so: the parser on CRAFT (~17 min on 2 idle cores) and the NER model on BC5CDR with
# its four augmentations (pipelines/train-default.toml, about 85 min). Extra arguments go to
# `bioner run` (e.g. `--set model.device=cuda`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

BIONER_SETUP_NO_BUILD=1 ops/setup.sh
cargo build --release --quiet
BIONER=target/release/bioner

if [ ! -f models/parser/craft.bnrdep ]; then
  echo "== no parser model (it ships with the repository): training the tagger and parser on CRAFT (~17 min, once)"
  "$BIONER" parser train
fi
if [ ! -f models/ner-default/bioner.json ]; then
  echo "== no default NER model (it ships with the repository): training it on BC5CDR (pipelines/train-default.toml, about 85 min on 2 cores, once; stopped, the next run continues it)"
  if [ ! -f data/corpora/bc5cdr/dev/documents.parquet ]; then
    "$BIONER" import bc5cdr
  fi
  for split in train dev; do
    "$BIONER" parse "data/corpora/bc5cdr/$split"
  done
  [ -f data/augmented/bc5cdr/part-00000.parquet ] || \
    "$BIONER" augment --corpus data/corpora/bc5cdr/train --out data/augmented/bc5cdr
  resume=()
  [ -f models/ner-default/checkpoint.json ] && resume=(--resume)
  "$BIONER" train pipelines/train-default.toml "${resume[@]}"
fi

echo "== bioner run pipelines/demo.toml --force"
"$BIONER" run pipelines/demo.toml --force "$@"

QUERY="SELECT entity_type, count(*) AS mentions, count(DISTINCT lower(text)) AS distinct_names
FROM 'out/demo/entities/*.parquet' GROUP BY entity_type ORDER BY mentions DESC"
echo
echo "== example DuckDB query over the entity tables:"
echo "$QUERY;"
.venv/bin/python - "$QUERY" <<'PY'
import sys, duckdb
print(duckdb.sql(sys.argv[1]))
print(duckdb.sql("""SELECT doc_id, section, char_start, char_end, text, entity_type, round(score, 3) AS score
FROM 'out/demo/entities/*.parquet' ORDER BY doc_id, section DESC, char_start LIMIT 8"""))
PY
