#!/usr/bin/env bash
# Malformed-input soak (docs/OPERATIONS.md, "Soak"): N good PubMed records with M corrupted
# ones mixed in (benches/soak_pubmed.py: nine kinds of corruption) through `bioner run`, against
# a run over the good records alone; fails unless every good record's entities are the clean
# run's, every bad record is rejected with its reason (deletions of unknown PMIDs are
# deletion rows), and the summaries and exit statuses say so.
#
#   benches/soak.sh [GOOD] [BAD]        # default 10000 1000; ~15 min here with the default model
#   MODEL=models/x benches/soak.sh 2000 200
#
# Real abstracts come from ${BIONER_DATA_DIR:-../shared/data}/pubmed_sample/pubtator/; scratch
# goes to out/soak/ (git-ignored).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GOOD="${1:-10000}"
BAD="${2:-1000}"
MODEL="${MODEL:-models/ner-default}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
BIN="${BIN:-target/release/bioner}"
PY=.venv/bin/python
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
dir=out/soak
rm -rf "$dir"
$PY benches/soak_pubmed.py make --good "$GOOD" --bad "$BAD" --out "$dir" \
  "$DATA"/pubmed_sample/pubtator/bioconcepts2pubtator_offsets.sample_201{6,7}.txt
for run in clean dirty; do
  cat > "$dir/$run/pipeline.toml" <<TOML
[source]
kind = "pubmed_xml"
paths = ["$dir/$run/soak.xml"]

[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
# float32: the int8 encoder quantises activations per batch, so its scores depend on which
# sentences share a batch, and the bad records change the batches.
int8 = false

[sinks.parquet]
dir = "$dir/$run/out"
TOML
  set +e
  /usr/bin/time -v "$BIN" run "$dir/$run/pipeline.toml" --json --quiet \
    > "$dir/$run/summary.json" 2> "$dir/$run/stderr.log"
  status=$?
  set -e
  echo "== $run: exit $status, $(grep -E 'Elapsed|Maximum resident' "$dir/$run/stderr.log" | sed 's/^\s*//' | tr '\n' ' ')"
  [ "$status" -eq 0 ] || { tail -20 "$dir/$run/stderr.log" >&2; exit 1; }
done
$PY benches/soak_pubmed.py check "$dir"
