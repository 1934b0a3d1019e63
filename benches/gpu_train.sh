#!/usr/bin/env bash
# The accurate model on a CUDA machine: trains the full model (four augmentations, GCN,
# co-attention, boundary + span heads) with all-mpnet-base-v2 on BC5CDR in mixed bf16, then
# measures inference abstracts/s of `bioner run` on the GPU. Nothing in CI depends on it.
#
#   benches/gpu_train.sh                       # on a CUDA machine with the repo set up
#   ENCODER=models/all-MiniLM-L6-v2 EPOCHS=6 benches/gpu_train.sh   # the fast model instead
#
# Needs: a release binary (target/release/bioner, or BIN=...), the encoder directory
# (`ops/setup.sh --encoder mpnet`), the prepared BC5CDR corpus with trees and augmented shards
# (data/corpora/bc5cdr/{train,dev,test}, data/augmented/bc5cdr: `benches/ner_results.sh`
# prepares them) and, for the inference figure, a Parquet file of abstracts (ABSTRACTS=...,
# made by `benches/hf_ner_pipeline.py prepare`, as benches/run_vs_transformers.sh does).
# libtorch: the binary's rpath, or LD_LIBRARY_PATH pointing at a torch 2.11 `torch/lib`.
#
# Prints and writes to $OUT_DIR/gpu-result.json (default out/gpu): the GPU name, epochs run,
# minutes per epoch and sentences/s of training, dev F1 per epoch, test P/R/F1, and
# abstracts/s of `bioner run` with the trained model on CUDA. A stopped run continues from its
# checkpoint when the script is run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BIN="${BIN:-target/release/bioner}"
ENCODER="${ENCODER:-models/all-mpnet-base-v2}"
EPOCHS="${EPOCHS:-5}"
SEED="${SEED:-1}"
OUT_DIR="${OUT_DIR:-out/gpu}"
MODEL_DIR="$OUT_DIR/model-$(basename "$ENCODER")-s$SEED"
ABSTRACTS="${ABSTRACTS:-}"
PY="${PY:-python3}"

[ -x "$BIN" ] || { echo "no $BIN (cargo build --release, or BIN=...)" >&2; exit 1; }
[ -f "$ENCODER/model.safetensors" ] || { echo "no encoder in $ENCODER (ops/setup.sh --encoder mpnet)" >&2; exit 1; }
for d in data/corpora/bc5cdr/train data/corpora/bc5cdr/dev data/corpora/bc5cdr/test data/augmented/bc5cdr; do
  [ -e "$d" ] || { echo "no $d (benches/ner_results.sh prepares the corpus)" >&2; exit 1; }
done
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
mkdir -p "$OUT_DIR"

resume=()
[ -f "$MODEL_DIR/checkpoint.json" ] && resume=(--resume)
start=$(date +%s)
"$BIN" train pipelines/train-bc5cdr.toml \
  --set model.device=cuda --set model.precision=mixed_bf16 \
  --set "model.encoder=\"$ENCODER\"" --set "optim.epochs=$EPOCHS" --set "optim.seed=$SEED" \
  --set "output.dir=\"$MODEL_DIR\"" "${resume[@]}" | tee -a "$OUT_DIR/train.log"
train_secs=$(( $(date +%s) - start ))

run_json="null"
if [ -n "$ABSTRACTS" ]; then
  cat > "$OUT_DIR/run.toml" <<EOF
[source]
kind = "parquet"
paths = ["$ABSTRACTS"]

[model]
dir = "$MODEL_DIR"
device = "cuda"

[sinks.parquet]
dir = "$OUT_DIR/entities"
EOF
  "$BIN" run "$OUT_DIR/run.toml" --force --json > "$OUT_DIR/run-summary.json"
  run_json="$(cat "$OUT_DIR/run-summary.json")"
fi

"$PY" - "$MODEL_DIR" "$train_secs" "$OUT_DIR/gpu-result.json" "$run_json" <<'PY'
import json, subprocess, sys
model, secs, out, run = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
epochs = [json.loads(l) for l in open(f"{model}/metrics.jsonl")]
test = json.load(open(f"{model}/test.json"))
try:
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
except OSError:
    gpu = None
minutes = [e["train_seconds"] / 60 for e in epochs]
result = {
    "gpu": gpu, "model": model, "wall_seconds_this_session": secs,
    "epochs_run": len(epochs), "minutes_per_epoch": minutes,
    "epochs_per_minute": len(epochs) / sum(minutes),
    "train_sentences_per_second": [e["sentences_per_second"] for e in epochs],
    "dev_f1": [e["dev_f1"] for e in epochs], "test": test.get("micro", test),
    "run": run,
}
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result, indent=2))
PY
