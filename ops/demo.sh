#!/usr/bin/env bash
# The main-job command (README): set-up (idempotent), a release build, then `bioner run` on the
# embedded default: the sample abstracts in pipelines/samples/ (PubMed XML) through the
# default model into entity Parquet tables under out/demo/, with the run summary and an
# example DuckDB query. The first time, it trains what is missing (and says so): the parser on
# CRAFT (~5 min) and the default NER model on BC5CDR (~10 min). Extra arguments go to
# `bioner run` (e.g. `--set model.device=cuda`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

BIONER_SETUP_NO_BUILD=1 ops/setup.sh
cargo build --release --quiet
BIONER=target/release/bioner

if [ ! -f models/parser/craft.bnrdep ]; then
  echo "== no parser model yet: training the tagger and parser on CRAFT (~17 min, once)"
  "$BIONER" parser train
fi
if [ ! -f models/ner-default/bioner.json ]; then
  echo "== no default NER model yet: training one on BC5CDR (pipelines/train-default.toml, ~10 min, once)"
  if [ ! -f data/corpora/bc5cdr/dev/documents.parquet ]; then
    "$BIONER" import bc5cdr
  fi
  for split in train dev; do
    "$BIONER" parse "data/corpora/bc5cdr/$split"
  done
  "$BIONER" train pipelines/train-default.toml
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
