#!/usr/bin/env bash
# Peak memory of `bioner run` on long documents (#21 item 3: 10,000 abstracts of 90 kB each
# under 2 GB): N documents of about KB kilobytes each, made of real abstracts (the PubTator
# samples) joined together, as one Parquet input, through `bioner run` under /usr/bin/time -v.
#
#   benches/memory.sh [N] [KB]            # default 10000 90
#   MODEL=models/x INT8=true benches/memory.sh 2000 90
#
# Prints wall time, peak RSS and the run's summary line; scratch goes to out/memory/.
# With the default model, 10,000 × 90 kB (900 MB of text) takes hours on 2 cores: the model
# reads every token. Peak RSS should not grow with N; compare a few N.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-10000}"
KB="${2:-90}"
MODEL="${MODEL:-models/ner-default}"
INT8="${INT8:-true}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
BIN="${BIN:-target/release/bioner}"
PY=.venv/bin/python
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
dir=out/memory
rm -rf "$dir" && mkdir -p "$dir"
$PY - "$N" "$KB" "$dir/long.parquet" "$DATA"/pubmed_sample/pubtator/bioconcepts2pubtator_offsets.sample_201{6,7}.txt <<'PY'
import sys, pyarrow as pa, pyarrow.parquet as pq
n, kb, out, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
texts = []
for f in files:
    for line in open(f, encoding="utf-8"):
        p = line.rstrip("\n").split("|", 2)
        if len(p) == 3 and p[1] == "a" and p[2].strip():
            texts.append(p[2])
writer, batch, k = None, [], 0
for i in range(n):
    parts, size = [], 0
    while size < kb * 1000:
        t = texts[k % len(texts)]; k += 1
        parts.append(t); size += len(t.encode()) + 1
    batch.append({"pmid": str(70_000_000 + i), "title": f"Long document {i}.", "abstract": " ".join(parts)[: kb * 1000]})
    if len(batch) == 500 or i == n - 1:
        t = pa.Table.from_pylist(batch)
        writer = writer or pq.ParquetWriter(out, t.schema, compression="zstd")
        writer.write_table(t); batch = []
writer.close()
PY
cat > "$dir/pipeline.toml" <<TOML
[source]
kind = "parquet"
paths = ["$dir/long.parquet"]

[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
int8 = $INT8

[sinks.parquet]
dir = "$dir/out"
TOML
/usr/bin/time -v "$BIN" run "$dir/pipeline.toml" --json --quiet > "$dir/summary.json" 2> "$dir/stderr.log" \
  || { tail -20 "$dir/stderr.log" >&2; exit 1; }
echo "== $N documents of ~$KB kB: $(grep -E 'Elapsed|Maximum resident' "$dir/stderr.log" | sed 's/^\s*//' | tr '\n' ' ')"
$PY -c "import json,sys; s=json.load(open(sys.argv[1])); print({k: s[k] for k in ('documents','rejects','sentences','tokens','seconds')})" "$dir/summary.json"
