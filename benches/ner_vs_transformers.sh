#!/usr/bin/env bash
# Side by side on one split, one run: bioner's models (trained model directories, e.g. the
# seeds of one row) and the Hugging Face transformers token-classification fine-tuning of the
# same encoder with the same epoch budget and model selection (an epoch cap, the best dev
# epoch kept, stopping after PATIENCE epochs without a better one, default 2;
# benches/hf_token_classification.py), all scored by bioner's strict scorer on the test
# split's gold mentions (character offsets). With several bioner models it also prints their
# mean ± sd micro F1 and the lead over the peer.
#
#   benches/ner_vs_transformers.sh bc5cdr 6 models/results/bc5cdr-full-s{1,2,3}
#   ENCODER=models/all-mpnet-base-v2 benches/ner_vs_transformers.sh bc5cdr 5 models/results/bc5cdr-full-mpnet-s1
#
# With no model directory only the peer runs (a machine that no longer holds the bioner
# models, whose scores are in benches/results/ner_runs.jsonl): `SEED=2 PATIENCE=4
# benches/ner_vs_transformers.sh bc5cdr 30`. Either way the peer's result is appended to
# that file (row `transformers-<encoder>`, TAG appended when set) with its dev curve, so the
# tables can cite both from one place. The corpus is prepared first where missing
# (benches/prepare_corpus.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ $# -lt 2 ]; then
  echo "usage: $0 CORPUS EPOCHS [MODEL_DIR...]" >&2
  exit 2
fi
corpus="$1"; epochs="$2"; shift 2
ENCODER="${ENCODER:-models/all-MiniLM-L6-v2}"
SEED="${SEED:-1}"
PATIENCE="${PATIENCE:-2}"
RUNS="${RUNS:-benches/results/ner_runs.jsonl}"
BIONER_SETUP_NO_BUILD=1 ops/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check "transformers==4.57.1" "seqeval==1.2.2"
if [ -z "${BIN:-}" ]; then
  BIN=target/release/bioner
  cargo build --release --quiet
fi
BIN="$BIN" benches/prepare_corpus.sh "$corpus"
split="data/corpora/$corpus/test"
out="models/results/peer-$corpus"
mkdir -p "$out" "$(dirname "$RUNS")"

scores=()
for model in "$@"; do
  echo "== bioner: $model"
  pred="$out/bioner-$(basename "$model").parquet"
  "$BIN" eval --model "$model" --split "$split" --write-mentions "$pred" > /dev/null
  "$BIN" eval --gold "$split/mentions.parquet" --pred "$pred"
  scores+=("$("$BIN" eval --gold "$split/mentions.parquet" --pred "$pred" --json)")
done

name="transformers-$(basename "$ENCODER" | tr 'A-Z' 'a-z' | sed 's/^all-//; s/-base-v2$//; s/-l6-v2$//')"
[ -n "${TAG:-}" ] && name="$name-$TAG"
echo "== transformers token classification, $ENCODER, up to $epochs epochs (patience $PATIENCE), seed $SEED"
start=$(date +%s)
cmd=(.venv/bin/python benches/hf_token_classification.py --corpus "data/corpora/$corpus"
  --encoder "$ENCODER" --epochs "$epochs" --patience "$PATIENCE" --seed "$SEED"
  --out "$out/$name-s$SEED.parquet")
# shellcheck disable=SC2206
cmd+=(${HF_ARGS:-})  # e.g. HF_ARGS="--max-train 200 --max-test 100" for a quick check
"${cmd[@]}" | tee "$out/$name-s$SEED.log"
secs=$(( $(date +%s) - start ))
echo "wall time ${secs}s"
"$BIN" eval --gold "$split/mentions.parquet" --pred "$out/$name-s$SEED.parquet"
peer="$("$BIN" eval --gold "$split/mentions.parquet" --pred "$out/$name-s$SEED.parquet" --json)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
.venv/bin/python - "$corpus" "$name" "$SEED" "$secs" "$out/$name-s$SEED.log" "$peer" "${cmd[*]}" "$commit" >> "$RUNS" <<'PY'
import json, platform, sys
corpus, row, seed, secs, log, test, cmd, commit = sys.argv[1:]
lines = [json.loads(l) for l in open(log) if l.startswith("{")]
epochs = [l for l in lines if "epoch" in l]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.processor())
print(json.dumps({"corpus": corpus, "row": row, "seed": int(seed), "wall_seconds": int(secs),
                  "epochs_run": len(epochs), "best_dev_f1": max(l["dev_f1"] for l in epochs),
                  "dev_curve": [l["dev_f1"] for l in epochs],
                  "sentences_per_second": [round(l["sentences_per_s"], 1) for l in epochs],
                  "test": json.loads(test), "command": cmd, "commit": commit, "cpu": cpu}))
PY

[ $# -gt 0 ] || exit 0
.venv/bin/python - "$peer" "${scores[@]}" <<'PY'
import json, statistics, sys
f1 = lambda s: 100 * json.loads(s)["micro"]["f1"]
peer, ours = f1(sys.argv[1]), [f1(s) for s in sys.argv[2:]]
mean = statistics.mean(ours)
sd = statistics.stdev(ours) if len(ours) > 1 else 0.0
print(f"== bioner micro F1 over {len(ours)} model(s): {', '.join(f'{x:.2f}' for x in ours)}; "
      f"mean {mean:.2f} ± {sd:.2f}; transformers {peer:.2f}; lead {mean - peer:+.2f}")
PY
