#!/usr/bin/env bash
# BC5CDR test through `bioner run`, exported as PubTator and BioC XML and read back by bioner's
# own readers (`bioner import --format`): the predictions must score the same as the run's
# entity tables scored directly. Prints the three score tables and whether they agree.
#
#   benches/export_roundtrip.sh [MODEL_DIR]      # default models/ner-default
#
# Reads ../shared/data (BIONER_DATA_DIR) through `bioner import bc5cdr`; writes under
# target/export-roundtrip/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL="${1:-models/ner-default}"
BIN="${BIN:-target/release/bioner}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
[ -x "$BIN" ] || cargo build --release --quiet
work=target/export-roundtrip
rm -rf "$work"
mkdir -p "$work"
[ -f data/corpora/bc5cdr/test/documents.parquet ] || "$BIN" import bc5cdr --data-dir "$DATA" >/dev/null
# The corpus's documents table has a row per section; bioner run reads one row per document.
.venv/bin/python - "$work/bc5cdr-test.parquet" <<'EOF'
import sys, duckdb
duckdb.sql("""COPY (
  SELECT doc_id AS pmid,
         max(CASE WHEN section = 'title' THEN text END) AS title,
         max(CASE WHEN section = 'abstract' THEN text END) AS abstract
  FROM 'data/corpora/bc5cdr/test/documents.parquet' GROUP BY doc_id ORDER BY doc_id
) TO '""" + sys.argv[1] + "' (FORMAT parquet)")
EOF
cat > "$work/run.toml" <<EOF
[source]
kind = "parquet"
paths = ["$work/bc5cdr-test.parquet"]
[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
device = "cpu"
[sinks.parquet]
dir = "$work/out"
EOF
"$BIN" run "$work/run.toml" --quiet
gold=data/corpora/bc5cdr/test/mentions.parquet
echo "== the run's entity tables, scored directly"
"$BIN" eval --gold "$gold" --pred "$work/out" | tee "$work/direct.txt"
for format in pubtator bioc-xml; do
  reader="${format%-xml}"
  "$BIN" export "$work/out" --format "$format" --out "$work/pred.$format"
  "$BIN" import --format "$reader" --name "pred-$format" "test=$work/pred.$format" \
    --out "$work/corpora" | grep -E "mentions|problems"
  echo "== exported as $format, read back by bioner import --format $reader"
  "$BIN" eval --gold "$gold" --pred "$work/corpora/pred-$format/test/mentions.parquet" \
    | tee "$work/$format.txt"
  if cmp -s "$work/direct.txt" "$work/$format.txt"; then
    echo "$format: same scores"
  else
    echo "$format: SCORES DIFFER" >&2
    exit 1
  fi
done
