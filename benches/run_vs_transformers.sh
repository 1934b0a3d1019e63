#!/usr/bin/env bash
# Throughput and peak memory on CPU, end to end: `bioner run` (a Parquet source, the default
# model, a Parquet sink) against a Hugging Face transformers token-classification pipeline
# (benches/hf_ner_pipeline.py: the same MiniLM encoder with a randomly initialised head, so
# a speed/memory comparison only) on the same real PubMed abstracts (the PubTator samples in
# ${BIONER_DATA_DIR:-../shared/data}/pubmed_sample/pubtator/).
#
#   benches/run_vs_transformers.sh [N_DOCS]          # default 1000 abstracts
#   MODEL=models/x HF_BATCH1_DOCS=200 benches/run_vs_transformers.sh 1000
#
# bioner: one process under /usr/bin/time -v; abstracts/s = documents / wall seconds of the
# whole process (model load included); the run summary's own documents/s is printed too.
# transformers: one process per batch size (1, 8, 32) under /usr/bin/time -v, so each peak RSS
# is that batch size's own; abstracts/s = documents / seconds of one timed pass after a
# warm-up on 10 documents (model load not timed). HF_BATCH1_DOCS caps the batch-1 run.
# Goals checked: bioner >= 2x the best peer abstracts/s, bioner peak RSS < 2 GB.
# Scratch files go to out/bench-run/<timestamp>/ (git-ignored). Both sides use 2 threads.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N_DOCS="${1:-1000}"
MODEL="${MODEL:-models/ner-default}"
ENCODER="${ENCODER:-models/all-MiniLM-L6-v2}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
HF_BATCH1_DOCS="${HF_BATCH1_DOCS:-$N_DOCS}"
HF_BATCHES="${HF_BATCHES:-1 8 32}"
BIN=target/release/bioner
PY=.venv/bin/python

[[ -d "$MODEL" ]] || { echo "no model directory $MODEL (train one first, ops/demo.sh)" >&2; exit 1; }
[[ -d "$ENCODER" ]] || { echo "no encoder directory $ENCODER" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
dpkg -s time > /dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time > /dev/null; }
$PY -c "import transformers" 2> /dev/null \
  || $PY -m pip install -q --disable-pip-version-check "transformers==4.57.1"

# Versions now: other people may commit while this runs.
head="$(git rev-parse --short HEAD)"
[[ -z "$(git status --porcelain -- src Cargo.toml Cargo.lock)" ]] || head="$head + uncommitted changes in src/"
bin_built="$(date -r "$BIN" '+%F %T')"
scratch="out/bench-run/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$scratch"
pubtator="$DATA/pubmed_sample/pubtator"
$PY benches/hf_ner_pipeline.py prepare --out "$scratch/abstracts.parquet" --max-docs "$N_DOCS" \
  "$pubtator/bioconcepts2pubtator_offsets.sample_2016.txt" \
  "$pubtator/bioconcepts2pubtator_offsets.sample_2017.txt" > "$scratch/prepare.json"
docs_in=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['documents'])" "$scratch/prepare.json")
echo "== $docs_in abstracts -> $scratch/abstracts.parquet"

cat > "$scratch/pipeline.toml" <<EOF
# benches/run_vs_transformers.sh: the benchmark abstracts through $MODEL on CPU.
[source]
kind = "parquet"
paths = ["$scratch/abstracts.parquet"]

[model]
dir = "$MODEL"
parser = "models/parser/craft.bnrdep"
device = "cpu"

[sinks.parquet]
dir = "$scratch/bioner-out"
EOF

# Peak RSS (KiB), CPU share (%) and wall seconds from a /usr/bin/time -v report; the load
# average before each run shows whether something else competed for the 2 cores.
rss_kib() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
cpu_pct() { awk -F': ' '/Percent of CPU/ {sub("%", "", $2); print $2}' "$1"; }
wall_s() {
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$1"
}

# bioner twice: its default (int8 encoder on the CPU) and float32 throughout.
for variant in int8 float32; do
  int8=true; [[ "$variant" == float32 ]] && int8=false
  bioner_cmd=("$BIN" run "$scratch/pipeline.toml" --force --json --quiet --set "model.int8=$int8"
              --set "sinks.parquet.dir=$scratch/bioner-out-$variant")
  echo "== bioner: ${bioner_cmd[*]}   (load average before: $(cut -d' ' -f1 /proc/loadavg))"
  if ! /usr/bin/time -v -o "$scratch/bioner-$variant.time" "${bioner_cmd[@]}" \
      > "$scratch/bioner-$variant.json" 2> "$scratch/bioner-$variant.stderr"; then
    echo "bioner run failed; its stderr:" >&2
    cat "$scratch/bioner-$variant.stderr" >&2
    exit 1
  fi
  cat "$scratch/bioner-$variant.stderr"
done

for b in $HF_BATCHES; do
  max=()
  [[ "$b" == 1 && "$HF_BATCH1_DOCS" != "$N_DOCS" ]] && max=(--max-docs "$HF_BATCH1_DOCS")
  hf_cmd=("$PY" benches/hf_ner_pipeline.py bench --input "$scratch/abstracts.parquet"
          --encoder "$ENCODER" --batch "$b" "${max[@]}")
  echo "== transformers: ${hf_cmd[*]}   (load average before: $(cut -d' ' -f1 /proc/loadavg))"
  /usr/bin/time -v -o "$scratch/hf-b$b.time" "${hf_cmd[@]}" \
    > "$scratch/hf-b$b.json" 2> "$scratch/hf-b$b.stderr" \
    || { echo "peer failed at batch $b:" >&2; cat "$scratch/hf-b$b.stderr" >&2; exit 1; }
  cat "$scratch/hf-b$b.json"
done

# One table and the verdict.
proc_stats() { echo "$(rss_kib "$1"),$(wall_s "$1"),$(cpu_pct "$1")"; }
rss_args=("bioner=$(proc_stats "$scratch/bioner-int8.time")" "bioner32=$(proc_stats "$scratch/bioner-float32.time")")
for b in $HF_BATCHES; do rss_args+=("b$b=$(proc_stats "$scratch/hf-b$b.time")"); done
$PY - "$scratch" "$HF_BATCHES" "${rss_args[@]}" <<'EOF'
import json, sys
scratch, batches, *procs = sys.argv[1:]
proc = {k: tuple(map(float, v.split(","))) for k, v in (p.split("=", 1) for p in procs)}
mib = lambda kib: kib / 1024
s = json.load(open(f"{scratch}/bioner-int8.json"))
rss, wall, b_cpu = proc["bioner"]
b_rate = s["documents"] / wall
s32 = json.load(open(f"{scratch}/bioner-float32.json"))
rss32, wall32, _ = proc["bioner32"]
rows = [("bioner run (default: int8 encoder)", "token budget", s["documents"], wall, b_rate, mib(rss), sum(s["entities"].values())),
        ("bioner run (model.int8=false)", "token budget", s32["documents"], wall32, s32["documents"] / wall32, mib(rss32), sum(s32["entities"].values()))]
peers = []
for b in batches.split():
    h = json.loads(open(f"{scratch}/hf-b{b}.json").read().strip().splitlines()[-1])
    rss_h, wall_h, _ = proc[f"b{b}"]
    peers.append((h, rss_h, wall_h))
    rows.append(("transformers pipeline*", str(b), h["documents"], h["seconds"], h["docs_per_s"],
                 mib(rss_h), sum(h["entities"].values())))
print("\n| system | batch | documents | wall s | abstracts/s | peak RSS MiB | entities found |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.2f} | {r[5]:.0f} | {r[6]} |")
best, best_rss, _ = max(peers, key=lambda p: p[0]["docs_per_s"])
ratio = b_rate / best["docs_per_s"]
h0 = peers[0][0]
print(f"""
bioner: wall s = the whole process (model load included); peak RSS from /usr/bin/time -v.
  Entities by type: {s['entities']}. Its own summary: {s['documents']} documents in {s['seconds']:.1f} s
  = {s['documents'] / s['seconds']:.2f} documents/s ({s['sentences']} sentences, {s['tokens']} tokens, {s['rejects']} rejects).
  Busy seconds per stage (int8 run): {s['stage_seconds']}.
  CPU share of the process (time -v): bioner {b_cpu:.0f}%, {', '.join(f"b{b} {proc[f'b{b}'][2]:.0f}%" for b in batches.split())} (200% = both cores).
* transformers: MiniLM encoder + RANDOMLY INITIALISED 5-label head: a speed/memory comparison
  only, its entities mean nothing. wall s = one timed pass after a 10-document warm-up, model
  load not included (~{h0['load_seconds']:.1f} s). Peak RSS: each batch size's own process,
  /usr/bin/time -v (ru_maxrss inside: {', '.join(f"b{p[0]['batch']} {p[0]['ru_maxrss_kib'] / 1024:.0f}" for p in peers)} MiB).
  {h0['docs_over_512_subwords']} of {h0['documents']} texts exceed 512 subwords (mean {h0['subwords_mean']:.0f}, max {h0['subwords_max']}): the pipeline's
  stride={h0['stride']} windows cover them, nothing is truncated. torch threads: {h0['threads']}.""")
for h, _, _ in peers:
    if h["documents"] != s["documents"]:
        print(f"  NOTE: batch {h['batch']} was capped to the first {h['documents']} documents.")
print(f"""
ratio bioner / best peer (batch {best['batch']}): {b_rate:.2f} / {best['docs_per_s']:.2f} = {ratio:.2f}x
goal >= 2x peer abstracts/s: {'HOLDS' if ratio >= 2 else 'FAILS'}
goal bioner peak RSS < 2 GB: {'HOLDS' if rss * 1024 < 2e9 else 'FAILS'} ({mib(rss):.0f} MiB = {rss * 1024 / 1e9:.2f} GB)""")
EOF

echo
echo "command: $0 $*  (N_DOCS=$N_DOCS MODEL=$MODEL ENCODER=$ENCODER HF_BATCH1_DOCS=$HF_BATCH1_DOCS)"
echo "versions: bioner git HEAD $head (at the start; $BIN built $bin_built)," \
  "$($PY -c 'import transformers, torch; print(f"transformers {transformers.__version__}, torch {torch.__version__}")')," \
  "$(nproc) CPU cores; scratch $scratch"
