#!/usr/bin/env bash
# Peak memory of `bioner run` on long documents (#21 item 3: 10,000 abstracts of 90 kB each
# under 2 GB): N documents of about KB kilobytes each, made of real abstracts (the PubTator
# samples) joined together, as Parquet inputs of 500 documents each, through `bioner run`
# under /usr/bin/time -v.
#
#   benches/memory.sh [N] [KB]            # default 10000 90
#   MODEL=models/x INT8=true benches/memory.sh 2000 90
#   FRESH=1 benches/memory.sh 100 90      # start over
#
# Resumable: 10,000 × 90 kB (900 MB of text) takes hours on 2 cores (the model reads every
# token), so a stopped run (Ctrl-C, a session's end) is continued by running the same command
# again; finished input files are in the manifest. Every invocation appends its wall time and
# peak RSS to out/memory/N-KB/runs.log; the report at the end gives the largest peak of all
# invocations and counts the documents in the output tables.
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
dir="out/memory/$N-$KB"
[[ -n "${FRESH:-}" ]] && rm -rf "$dir"
mkdir -p "$dir/in"
[[ -f "$dir/in/.complete" ]] || $PY - "$N" "$KB" "$dir/in" "$DATA"/pubmed_sample/pubtator/bioconcepts2pubtator_offsets.sample_201{6,7}.txt <<'PY'
import sys, pyarrow as pa, pyarrow.parquet as pq
n, kb, out, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
texts = []
for f in files:
    for line in open(f, encoding="utf-8"):
        p = line.rstrip("\n").split("|", 2)
        if len(p) == 3 and p[1] == "a" and p[2].strip():
            texts.append(p[2])
import os
batch, k = [], 0
for i in range(n):
    parts, size = [], 0
    while size < kb * 1000:
        t = texts[k % len(texts)]; k += 1
        parts.append(t); size += len(t.encode()) + 1
    batch.append({"pmid": str(70_000_000 + i), "title": f"Long document {i}.", "abstract": " ".join(parts)[: kb * 1000]})
    if len(batch) == 500 or i == n - 1:
        pq.write_table(pa.Table.from_pylist(batch), f"{out}/long-{i // 500:04d}.parquet", compression="zstd")
        batch = []
open(f"{out}/.complete", "w").close()
PY
cat > "$dir/pipeline.toml" <<TOML
[source]
kind = "parquet"
paths = ["$dir/in/*.parquet"]

[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
int8 = $INT8

[sinks.parquet]
dir = "$dir/out"
document_text = false
TOML
/usr/bin/time -v "$BIN" run "$dir/pipeline.toml" --json --quiet > "$dir/summary.json" 2> "$dir/stderr.log" \
  || { tail -20 "$dir/stderr.log" >&2; exit 1; }
peak_kb=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$dir/stderr.log")
wall=$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/stderr.log")
done_now=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['documents'])" "$dir/summary.json")
echo "$(date -u +%FT%TZ) documents=$done_now wall=$wall peak_rss_kb=$peak_kb" >> "$dir/runs.log"
echo "== this invocation: $done_now documents of ~$KB kB, wall $wall, peak RSS $((peak_kb / 1024)) MB"
$PY - "$dir" "$N" <<'PY'
import sys, re, duckdb
d, n = sys.argv[1], int(sys.argv[2])
runs = [l for l in open(f"{d}/runs.log") if l.strip()]
peaks = [int(re.search(r"peak_rss_kb=(\d+)", l).group(1)) for l in runs]
out = duckdb.sql(f"SELECT count(*), count(DISTINCT doc_id), sum(sentences), sum(tokens) FROM '{d}/out/documents/*.parquet'").fetchall()[0]
print(f"== {out[0]} of {n} documents in the tables ({out[1]} distinct; {out[2]} sentences, {out[3]} tokens) "
      f"over {len(runs)} invocation(s); largest peak RSS {max(peaks) / 1024:.0f} MB "
      f"(each: {', '.join(f'{p / 1024:.0f}' for p in peaks)} MB)")
if out[0] < n:
    print("== not finished: run the same command again to continue")
PY
