"""Renders benches/results/ner_runs.jsonl (written by benches/ner_results.sh) as the markdown table of
docs/RESULTS.md: test P/R/F1 per row (mean ± sd over seeds when there are several), with the
wall time and the command of each run."""

import json
import statistics
import sys
from collections import defaultdict

NAMES = {
    "full": "full model (ALL augmentations + GCN + co-attention + MT)",
    "noda": "W/O DA", "nogcn": "W/O GCN", "nomt": "W/O MT", "nocoatt": "W/O co-attention",
    "bertcrf": "BERT+CRF", "bertbilstmcrf": "BERT+BiLSTM+CRF", "bertcnncrf": "BERT+CNN+CRF",
    "mr": "MR + GCN", "lwtr": "LwTR + GCN", "sis": "SiS + GCN", "sr": "SR + GCN",
}


def cell(values):
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def main(path="benches/results/ner_runs.jsonl"):
    runs = defaultdict(list)
    for line in open(path):
        r = json.loads(line)
        runs[(r["corpus"], r["row"])].append(r)
    print("| corpus | row | seeds | P | R | F1 | epochs | wall time | command |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (corpus, row), rs in runs.items():
        m = [r["test"]["micro"] for r in rs]
        p, rc, f = ([100 * x[k] for x in m] for k in ("precision", "recall", "f1"))
        wall = " + ".join(f"{r['wall_seconds'] // 60} min" for r in rs)
        print(f"| {corpus} | {NAMES.get(row, row)} | {len(rs)} | {cell(p)} | {cell(rc)} | {cell(f)} | "
              f"{rs[0]['epochs_run']} | {wall} | `{rs[0]['command']}` |")


if __name__ == "__main__":
    main(*sys.argv[1:])
