#!/usr/bin/env bash
# What each part of the paper's model costs on this CPU (#23 item 5): training sentences/s and
# end-to-end `bioner run` abstracts/s of the full model and of each ablation — W/O GCN (no
# dependency parse at run time either), W/O co-attention, W/O MT (a BIO head instead of the
# boundary + span heads) — and of the plain tagger BERT+CRF, all on the default encoder
# (MiniLM), measured in one run. The F1 each part adds comes from the trained rows of
# docs/RESULTS.md; here only speed, which does not depend on how well a model is trained: each
# variant is trained for one epoch on the first TRAIN_SENTENCES BC5CDR training sentences (its
# training speed is read from that epoch), and the shipped default model (the full
# architecture, fully trained) runs beside the short-trained full model as the check that a
# short-trained model runs at a trained one's speed.
#
#   benches/part_costs.sh [N_DOCS]        # default 1000 abstracts, ROUNDS=3, TRAIN_SENTENCES=800
#
# Rounds alternate the variants, so a slow spell of the shared VM hits all of them; the table
# gives medians. Needs the BC5CDR corpus prepared (benches/ner_results.sh does it on first use)
# and the release binary (BIN=...). Scratch under out/part-costs/ (git-ignored).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N_DOCS="${1:-1000}"
ROUNDS="${ROUNDS:-3}"
TRAIN_SENTENCES="${TRAIN_SENTENCES:-800}"
DATA="${BIONER_DATA_DIR:-../shared/data}"
BIN="${BIN:-target/release/bioner}"
PY=.venv/bin/python
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
[[ -f data/corpora/bc5cdr/train/sentences.parquet ]] \
  || { echo "BC5CDR is not prepared: benches/ner_results.sh bc5cdr prepares it (or bioner import bc5cdr; bioner parse ...)" >&2; exit 1; }
dpkg -s time > /dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time > /dev/null; }

scratch="out/part-costs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$scratch"
head="$(git rev-parse --short HEAD)"
[[ -z "$(git status --porcelain -- src Cargo.toml Cargo.lock)" ]] || head="$head + uncommitted changes in src/"
pubtator="$DATA/pubmed_sample/pubtator"
$PY benches/hf_ner_pipeline.py prepare --out "$scratch/abstracts.parquet" --max-docs "$N_DOCS" \
  "$pubtator/bioconcepts2pubtator_offsets.sample_2016.txt" \
  "$pubtator/bioconcepts2pubtator_offsets.sample_2017.txt" > "$scratch/prepare.json"

# variant name, then its overrides of pipelines/train-bc5cdr.toml
variants=(full nogcn nocoatt nomt bertcrf)
sets_of() {
  case "$1" in
    full) ;;
    nogcn) echo "--set model.gcn=false" ;;
    nocoatt) echo "--set model.coattention=false" ;;
    nomt) echo "--set model.multitask=false" ;;
    bertcrf) echo "--set model.baseline=bert_crf" ;;
  esac
}
# The BC5CDR training pipeline without its test split (no test evaluation at the end).
grep -v '^test = ' pipelines/train-bc5cdr.toml > "$scratch/train.toml"
for v in "${variants[@]}"; do
  # shellcheck disable=SC2046
  "$BIN" train "$scratch/train.toml" $(sets_of "$v") --set 'data.augmented=[]' \
    --set optim.epochs=1 --set "data.max_train_sentences=$TRAIN_SENTENCES" \
    --set data.max_dev_sentences=200 --set optim.checkpoint=false \
    --set "output.dir=\"$scratch/model-$v\"" > "$scratch/train-$v.log" 2>&1 \
    || { echo "training $v failed:" >&2; tail -20 "$scratch/train-$v.log" >&2; exit 1; }
  echo "== trained $v: $(tail -n1 "$scratch/model-$v/metrics.jsonl")"
done

cat > "$scratch/pipeline.toml" <<EOF
# benches/part_costs.sh: the benchmark abstracts through one model on CPU.
[source]
kind = "parquet"
paths = ["$scratch/abstracts.parquet"]

[model]
dir = "models/ner-default"
parser = "models/parser/craft.bnrdep"
device = "cpu"

[sinks.parquet]
dir = "$scratch/out"
EOF
runs=(default "${variants[@]}")
for ((r = 1; r <= ROUNDS; r++)); do
  for v in "${runs[@]}"; do
    dir="$scratch/model-$v"; [[ "$v" == default ]] && dir=models/ner-default
    f="$scratch/run-$v-r$r"
    /usr/bin/time -v -o "$f.time" "$BIN" run "$scratch/pipeline.toml" --force --json --quiet \
      --set "model.dir=\"$dir\"" --set "sinks.parquet.dir=\"$scratch/out-$v\"" > "$f.json" 2> "$f.stderr" \
      || { echo "bioner run with $v failed:" >&2; cat "$f.stderr" >&2; exit 1; }
    echo "== round $r $v: $(grep -o '"seconds": *[0-9.]*' "$f.json")"
  done
done

$PY - "$scratch" "$ROUNDS" "$head" "$TRAIN_SENTENCES" "${runs[@]}" <<'EOF'
import json, statistics, sys
sys.path.insert(0, "benches")
from time_report import time_v
scratch, rounds, head, train_n, *runs = sys.argv[1:]
rounds = int(rounds)
names = {"default": "shipped default (full, trained)", "full": "full model", "nogcn": "W/O GCN",
         "nocoatt": "W/O co-attention", "nomt": "W/O MT (BIO head)", "bertcrf": "BERT+CRF"}

rows = {}
for v in runs:
    rs = []
    for r in range(1, rounds + 1):
        s = json.load(open(f"{scratch}/run-{v}-r{r}.json"))
        rss, wall, _ = time_v(f"{scratch}/run-{v}-r{r}.time")
        rs.append(dict(rate=s["documents"] / wall, rss=rss, model=s["stage_seconds"].get("model", 0),
                       text=s["stage_seconds"].get("text", 0), docs=s["documents"]))
    train = None
    if v != "default":
        m = [json.loads(l) for l in open(f"{scratch}/model-{v}/metrics.jsonl")]
        train = m[-1]["sentences_per_second"]
    rows[v] = dict(rate=statistics.median(x["rate"] for x in rs), per=[x["rate"] for x in rs],
                   rss=max(x["rss"] for x in rs), model=statistics.median(x["model"] for x in rs),
                   text=statistics.median(x["text"] for x in rs), docs=rs[0]["docs"], train=train)
full = rows["full"]
print(f"\n{rows['full']['docs']} abstracts, {rounds} rounds (median), commit {head}; training: one epoch on "
      f"{train_n} BC5CDR sentences, 2 threads, the pipeline's precision")
print("| model | training sentences/s | × full | run abstracts/s (median) | × full | per round | "
      "busy s: model | busy s: text (split, tokenize, parse) | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for v in runs:
    x = rows[v]
    tr = f"{x['train']:.1f}" if x["train"] else "—"
    trx = f"{x['train'] / full['train']:.2f}" if x["train"] else "—"
    print(f"| {names[v]} | {tr} | {trx} | {x['rate']:.2f} | {x['rate'] / full['rate']:.2f} | "
          f"{', '.join(f'{p:.1f}' for p in x['per'])} | {x['model']:.1f} | {x['text']:.1f} | {x['rss']:.0f} |")
EOF
