#!/usr/bin/env bash
# Side by side on one split, one run: bioner's models (trained model directories, e.g. the
# seeds of one row) and the Hugging Face transformers token-classification fine-tuning of the
# same encoder with the same epoch budget and model selection (an epoch cap, the best dev
# epoch kept, patience 2; benches/hf_token_classification.py), all scored by bioner's strict
# scorer on the test split's gold mentions (character offsets). With several bioner models it
# also prints their mean ± sd micro F1 and the lead over the peer.
#
#   benches/ner_vs_transformers.sh bc5cdr 6 models/results/bc5cdr-full-s{1,2,3}
#   ENCODER=models/all-mpnet-base-v2 benches/ner_vs_transformers.sh bc5cdr 5 models/results/bc5cdr-full-mpnet-s1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ $# -lt 3 ]; then
  echo "usage: $0 CORPUS EPOCHS MODEL_DIR [MODEL_DIR...]" >&2
  exit 2
fi
corpus="$1"; epochs="$2"; shift 2
ENCODER="${ENCODER:-models/all-MiniLM-L6-v2}"
BIONER_SETUP_NO_BUILD=1 ops/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check "transformers==4.57.1" "seqeval==1.2.2"
if [ -z "${BIN:-}" ]; then
  BIN=target/release/bioner
  cargo build --release --quiet
fi
split="data/corpora/$corpus/test"
out="models/results/peer-$corpus"
mkdir -p "$out"

scores=()
for model in "$@"; do
  echo "== bioner: $model"
  pred="$out/bioner-$(basename "$model").parquet"
  "$BIN" eval --model "$model" --split "$split" --write-mentions "$pred" > /dev/null
  "$BIN" eval --gold "$split/mentions.parquet" --pred "$pred"
  scores+=("$("$BIN" eval --gold "$split/mentions.parquet" --pred "$pred" --json)")
done

name="transformers-$(basename "$ENCODER")"
echo "== transformers token classification, $ENCODER, up to $epochs epochs (patience 2)"
start=$(date +%s)
.venv/bin/python benches/hf_token_classification.py --corpus "data/corpora/$corpus" \
  --encoder "$ENCODER" --epochs "$epochs" --patience 2 --out "$out/$name.parquet"
echo "wall time $(( $(date +%s) - start ))s"
"$BIN" eval --gold "$split/mentions.parquet" --pred "$out/$name.parquet"
peer="$("$BIN" eval --gold "$split/mentions.parquet" --pred "$out/$name.parquet" --json)"

.venv/bin/python - "$peer" "${scores[@]}" <<'PY'
import json, statistics, sys
f1 = lambda s: 100 * json.loads(s)["micro"]["f1"]
peer, ours = f1(sys.argv[1]), [f1(s) for s in sys.argv[2:]]
mean = statistics.mean(ours)
sd = statistics.stdev(ours) if len(ours) > 1 else 0.0
print(f"== bioner micro F1 over {len(ours)} model(s): {', '.join(f'{x:.2f}' for x in ours)}; "
      f"mean {mean:.2f} ± {sd:.2f}; transformers {peer:.2f}; lead {mean - peer:+.2f}")
PY
