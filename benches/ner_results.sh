#!/usr/bin/env bash
# Re-measures rows of the paper's tables 2 and 5 on this machine: trains each row with
# `bioner train`, scores the best checkpoint on the test split, and appends one JSON line per
# run (row, seed, test P/R/F1 per type and micro, the dev curve, wall time, command, commit) to
# benches/results/ner_runs.jsonl (RUNS=...), which is tracked: a machine can be replaced between
# sessions, the record of what ran must not go with it (the models stay in the git-ignored
# models/results/). Then `benches/ner_results.py` renders the table in docs/RESULTS.md.
#
#   benches/ner_results.sh bc5cdr bertcrf noda full          # rows, in order
#   SEEDS="1 2 3" benches/ner_results.sh bc5cdr full
#   PER_METHOD=1134 benches/ner_results.sh bc5cdr full   # at most N augmented rows per method
#   ENCODER=models/all-mpnet-base-v2 benches/ner_results.sh bc5cdr full   # another encoder
#   SETS="--set optim.epochs=3" benches/ner_results.sh bc5cdr full         # extra overrides
#   BIN=/path/to/bioner benches/ner_results.sh bc5cdr full    # a given binary, no cargo build
#
# A run that was stopped (SIGINT/SIGTERM, a killed session) is continued from its checkpoint
# by running the same command again.
#
# Rows: full (all four augmentations, GCN, co-attention, boundary + span heads), noda (W/O DA),
# nogcn (W/O GCN), nomt (W/O MT: a BIO head), nocoatt, bertcrf / bertbilstmcrf / bertcnncrf
# (table 2 baselines, no augmentation), bertcrfda (BERT+CRF on the full model's augmented
# shards: #23's plain tagger with augmentation), mr / lwtr / sis / sr (one augmentation, with
# GCN).
# Corpora are prepared on first use (benches/prepare_corpus.sh: import, parse, augment;
# ccks2017 in Chinese, with the character-level parser built first when missing); their
# source is ../shared/data (BIONER_DATA_DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
corpus="$1"; shift
SEEDS="${SEEDS:-1}"
if [ -n "${BIN:-}" ]; then
  [ -x "$BIN" ] || { echo "BIN=$BIN is not an executable" >&2; exit 1; }
else
  BIN=target/release/bioner
  cargo build --release --quiet
fi
BIN="$BIN" benches/prepare_corpus.sh "$corpus"

RUNS="${RUNS:-benches/results/ner_runs.jsonl}"
mkdir -p models/results "$(dirname "$RUNS")"
for row in "$@"; do
  case "$row" in
    full)          sets=() ;;
    noda)          sets=(--set 'data.augmented=[]') ;;
    nogcn)         sets=(--set model.gcn=false) ;;
    nomt)          sets=(--set model.multitask=false) ;;
    nocoatt)       sets=(--set model.coattention=false) ;;
    bertcrf)       sets=(--set 'data.augmented=[]' --set model.baseline=bert_crf) ;;
    bertbilstmcrf) sets=(--set 'data.augmented=[]' --set model.baseline=bert_bilstm_crf) ;;
    bertcnncrf)    sets=(--set 'data.augmented=[]' --set model.baseline=bert_cnn_crf) ;;
    bertcrfda)     sets=(--set model.baseline=bert_crf) ;;
    mr|lwtr|sis|sr) sets=(--set "data.augmented_methods=[\"$row\"]") ;;
    *) echo "unknown row $row" >&2; exit 2 ;;
  esac
  name="$row"
  if [ -n "${PER_METHOD:-}" ]; then
    sets+=(--set "data.augmented_per_method=$PER_METHOD")
    name="$name-pm$PER_METHOD"
  fi
  if [ -n "${ENCODER:-}" ]; then
    sets+=(--set "model.encoder=\"$ENCODER\"")
    name="$name-$(basename "$ENCODER" | tr 'A-Z' 'a-z' | sed 's/^all-//; s/-base-v2$//; s/-l6-v2$//')"
  fi
  if [ -n "${TAG:-}" ]; then name="$name-$TAG"; fi
  # shellcheck disable=SC2206
  [ -n "${SETS:-}" ] && sets+=(${SETS})
  for seed in $SEEDS; do
    out="models/results/$corpus-$name-s$seed"
    cmd=("$BIN" train "pipelines/train-$corpus.toml" "${sets[@]}" --set "optim.seed=$seed" --set "output.dir=\"$out\"")
    resume=()
    if [ -f "$out/checkpoint.json" ]; then
      resume=(--resume)
      echo "== $corpus $name seed $seed: continuing the stopped run in $out"
    else
      rm -f "$out.seconds" "$out.log"
    fi
    echo "== $corpus $name seed $seed: ${cmd[*]} ${resume[*]}"
    start=$(date +%s)
    before="$(cat "$out.seconds" 2>/dev/null || echo 0)"
    status=0
    "${cmd[@]}" "${resume[@]}" | tee -a "$out.log" || status=$?
    # Wall time summed over every session the run took.
    secs=$(( $(date +%s) - start + before ))
    echo "$secs" > "$out.seconds"
    [ "$status" = 0 ] || { echo "== stopped ($status); run the same command again to continue" >&2; exit "$status"; }
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    .venv/bin/python - "$corpus" "$name" "$seed" "$secs" "$out" "${cmd[*]}" "$commit" >> "$RUNS" <<'PY'
import json, platform, sys
corpus, row, seed, secs, out, cmd, commit = sys.argv[1:]
test = json.load(open(f"{out}/test.json"))
metrics = [json.loads(l) for l in open(f"{out}/metrics.jsonl")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.processor())
print(json.dumps({"corpus": corpus, "row": row, "seed": int(seed), "wall_seconds": int(secs),
                  "epochs_run": len(metrics), "best_dev_f1": max(m["dev_f1"] for m in metrics),
                  "dev_curve": [round(m["dev_f1"], 2) for m in metrics],
                  "train_seconds": [round(m.get("train_seconds", 0)) for m in metrics],
                  "test": test, "command": cmd, "commit": commit, "cpu": cpu}))
PY
  done
done
