#!/usr/bin/env bash
# Peak memory of `bioner run` on long documents (#21 item 3: 10,000 abstracts of 90 kB each
# under 2 GB): N documents of about KB kilobytes each, made of real abstracts (the PubTator
# samples) joined together, as Parquet inputs of 500 documents each, through `bioner run`
# under /usr/bin/time -v.
#
#   benches/memory.sh [N] [KB]            # default 10000 90
#   SLICE=4 benches/memory.sh 10000 90    # at most 4 input files (2,000 documents) per invocation
#   MODEL=models/x INT8=true benches/memory.sh 2000 90
#   FRESH=1 benches/memory.sh 100 90      # start over (forgets the ledger too)
#
# Resumable across machines: 10,000 × 90 kB (900 MB of text) takes about 6 hours on 2 cores
# (the model reads every token), longer than a session, and a session's machine may not be the
# next one's. So every invocation appends one line per finished run to a tracked ledger,
# benches/results/memory-N-KB.jsonl (LEDGER=...): the input files it processed with a SHA-256
# of their content, documents, entities, rejects, wall seconds and peak RSS (MiB). The next invocation
# regenerates the same inputs (checked against the ledger's sums), skips the files the ledger
# lists and processes the rest, or SLICE of them, so that a slice finishes within a session.
# The report at the end gives every invocation's peak, the largest, and the documents counted.
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
import hashlib, json, sys, pyarrow as pa, pyarrow.parquet as pq
sums = {}
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
        name = f"long-{i // 500:04d}.parquet"
        pq.write_table(pa.Table.from_pylist(batch), f"{out}/{name}", compression="zstd")
        h = hashlib.sha256()
        for r in batch:
            h.update(json.dumps(r, sort_keys=True).encode() + b"\n")
        sums[name] = h.hexdigest()
        batch = []
json.dump(sums, open(f"{out}/content-sha256.json", "w"), indent=1, sort_keys=True)
open(f"{out}/.complete", "w").close()
PY
LEDGER="${LEDGER:-benches/results/memory-$N-$KB.jsonl}"
[[ -n "${FRESH:-}" ]] && rm -f "$LEDGER"
mkdir -p "$(dirname "$LEDGER")"
touch "$LEDGER"
# The input files still to do (none listed in the ledger), after checking that the inputs made
# here are the ones the ledger's runs read.
todo=$($PY - "$dir/in" "$LEDGER" "${SLICE:-0}" <<'PY'
import json, os, sys
inp, ledger, slice_ = sys.argv[1], sys.argv[2], int(sys.argv[3])
sums = json.load(open(f"{inp}/content-sha256.json"))
done = {}
for line in open(ledger):
    if line.strip():
        done.update(json.loads(line)["inputs"])
for name, sha in done.items():
    if sums.get(name) != sha:
        sys.exit(f"{ledger}: {name} had content sha256 {sha}, the input made here has {sums.get(name)}: "
                 "not the same inputs (other data or generator); FRESH=1 starts over")
todo = [n for n in sorted(sums) if n not in done]
print(" ".join(todo[:slice_] if slice_ > 0 else todo))
PY
)
if [[ -n "$todo" ]]; then
  paths=$(printf '"%s", ' $(for f in $todo; do echo "$dir/in/$f"; done))
  cat > "$dir/pipeline.toml" <<TOML
[source]
kind = "parquet"
paths = [${paths%, }]

[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
int8 = $INT8

[sinks.parquet]
dir = "$dir/out"
document_text = false
TOML
  echo "== $(wc -w <<< "$todo") input file(s) this invocation: $todo"
  /usr/bin/time -v "$BIN" run "$dir/pipeline.toml" --force --json --quiet > "$dir/summary.json" 2> "$dir/stderr.log" \
    || { tail -20 "$dir/stderr.log" >&2; exit 1; }
  $PY - "$dir" "$todo" "$LEDGER" "$(git rev-parse --short HEAD)" "$MODEL" "$INT8" <<'PY'
import datetime, json, sys
sys.path.insert(0, "benches")
from time_report import time_v
d, todo, ledger, commit, model, int8 = sys.argv[1:]
s = json.load(open(f"{d}/summary.json"))
peak_mib, wall, _ = time_v(f"{d}/stderr.log")
sums = json.load(open(f"{d}/in/content-sha256.json"))
if s["failed_inputs"] or s["skipped_inputs"]:
    sys.exit(f"inputs failed or skipped: {s['failed_inputs']} {s['skipped_inputs']}; not recorded")
line = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": {n: sums[n] for n in todo.split()}, "documents": s["documents"],
        "entities": sum(s["entities"].values()), "rejects": s["rejects"], "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_mib), "model": model, "int8": int8 == "true", "commit": commit,
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")}
open(ledger, "a").write(json.dumps(line) + "\n")
print(f"== this invocation: {s['documents']} documents, wall {wall:.0f} s, peak RSS {peak_mib:.0f} MiB")
PY
fi
$PY - "$LEDGER" "$N" "$(wc -w < <(ls "$dir/in" | grep parquet))" <<'PY'
import json, sys
ledger, n, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = [json.loads(l) for l in open(ledger) if l.strip()]
docs = sum(r["documents"] for r in runs)
done = sum(len(r["inputs"]) for r in runs)
peaks = [r["peak_rss_mib"] for r in runs]
print(f"== {docs} of {n} documents over {len(runs)} invocation(s) ({done} of {files} input files; "
      f"{sum(r['rejects'] for r in runs)} rejects, {sum(r['entities'] for r in runs)} entities); "
      f"largest peak RSS {max(peaks, default=0):.0f} MiB (each: {', '.join(f'{p:.0f}' for p in peaks)} MiB)")
if done < files:
    print("== not finished: run the same command again to continue")
PY
