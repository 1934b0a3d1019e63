#!/usr/bin/env bash
# Document consistency (docs/MODEL.md), measured: each model scored on a corpus's dev and test
# splits without it and with it (`bioner eval --document-consistency false|true`), the
# minimum score S being the model's own unless SCORE is given. One JSON line per model and
# split goes to benches/results/consistency.jsonl (RUNS=...), with the commit and the CPU;
# a markdown row is printed per model and split.
#
#   benches/consistency.sh bc5cdr models/ner-default models/results/bc5cdr-full-re-s2
#   SCORE=0.95 benches/consistency.sh bc5cdr models/results/bc5cdr-full-re-s3
#   INT8=1 benches/consistency.sh bc5cdr models/ner-default     # the encoder in int8
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -ge 2 ] || { echo "usage: $0 CORPUS MODEL_DIR..." >&2; exit 2; }
corpus="$1"
shift
BIN="${BIN:-target/release/bioner}"
RUNS="${RUNS:-benches/results/consistency.jsonl}"
SPLITS="${SPLITS:-dev test}"
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
extra=()
[ -n "${SCORE:-}" ] && extra+=(--document-consistency-score "$SCORE")
[ -n "${INT8:-}" ] && extra+=(--int8)
# One markdown row of the last record: model, split, S, P / R / F1 without and with, the gain.
ROW='
import json, sys
r = json.loads(sys.stdin.read())
f = lambda m: " / ".join("%.2f" % (100 * r[m]["micro"][k]) for k in ("precision", "recall", "f1"))
d = 100 * (r["with"]["micro"]["f1"] - r["without"]["micro"]["f1"])
s = "S = %g%s" % (r["score"], " int8" if r["int8"] else "")
print("| %s | %s | %s | %s | %s | %+.2f |" % (r["model"], r["split"], s, f("without"), f("with"), d))
'
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
mkdir -p "$(dirname "$RUNS")"
echo "| model | split | setting | without: P / R / F1 | with: P / R / F1 | F1 |"
echo "|---|---|---|---|---|---|"
for model in "$@"; do
  for split in $SPLITS; do
    dir="data/corpora/$corpus/$split"
    [ -d "$dir" ] || { echo "no $dir (benches/ner_results.sh prepares it)" >&2; exit 1; }
    without="$("$BIN" eval --model "$model" --split "$dir" --json --document-consistency false "${extra[@]}")"
    with="$("$BIN" eval --model "$model" --split "$dir" --json --document-consistency true "${extra[@]}")"
    .venv/bin/python - "$model" "$corpus" "$split" "${SCORE:-}" "${INT8:-}" "$commit" \
      "$without" "$with" >> "$RUNS" <<'PY'
import json, platform, sys
model, corpus, split, score, int8, commit, without, with_ = sys.argv[1:]
if not score:
    saved = json.load(open(f"{model}/bioner.json"))["model"]
    score = saved.get("document_consistency_score", 0.95)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.processor())
print(json.dumps({"model": model, "corpus": corpus, "split": split, "score": float(score),
                  "int8": bool(int8), "without": json.loads(without), "with": json.loads(with_),
                  "commit": commit, "cpu": cpu}))
PY
    tail -n 1 "$RUNS" | .venv/bin/python -c "$ROW"
  done
done
