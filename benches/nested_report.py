"""Nested NER on a split (#19 item 5): how many gold mentions take part in nesting (inside
another gold mention of the same section, or holding one), and, for each prediction table
(`bioner eval --model M --split S --write-mentions P.parquet`, with and without
`--overlap flat`), strict P/R/F1 per type and micro, and the recall on the nested gold
mentions alone. Spans compare as (document, section, char_start, char_end, type).

    .venv/bin/python benches/nested_report.py data/corpora/genia/test/mentions.parquet \
        nested=pred-nested.parquet flat=pred-flat.parquet [--json]
"""

import argparse
import json
from collections import defaultdict

import pyarrow.parquet as pq


def spans(path):
    rows = pq.read_table(path, columns=["doc_id", "section_index", "char_start", "char_end", "entity_type"]).to_pylist()
    return {(r["doc_id"], r["section_index"], r["char_start"], r["char_end"], str(r["entity_type"])) for r in rows}


def nested_of(gold):
    """Gold spans that lie inside another gold span of their section, or hold one (any type)."""
    by_section = defaultdict(set)
    for d, s, a, b, _ in gold:
        by_section[(d, s)].add((a, b))
    out = set()
    for g in gold:
        d, s, a, b, _ = g
        for a2, b2 in by_section[(d, s)]:
            if (a2, b2) != (a, b) and ((a2 <= a and b <= b2) or (a <= a2 and b2 <= b)):
                out.add(g)
                break
    return out


def prf(gold, pred):
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"gold": len(gold), "pred": len(pred), "tp": tp, "p": 100 * p, "r": 100 * r, "f1": 100 * f}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gold")
    ap.add_argument("predictions", nargs="+", help="NAME=PATH of a predicted mentions table")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    gold = spans(a.gold)
    nested = nested_of(gold)
    types = sorted({g[4] for g in gold})
    report = {"gold": len(gold), "nested_gold": len(nested), "nested_share": 100 * len(nested) / len(gold), "runs": {}}
    for item in a.predictions:
        name, path = item.split("=", 1)
        pred = spans(path)
        run = {"micro": prf(gold, pred)}
        for t in types:
            run[t] = prf({g for g in gold if g[4] == t}, {p for p in pred if p[4] == t})
        found = nested & pred
        run["nested_recall"] = 100 * len(found) / len(nested) if nested else 0.0
        run["nested_found"] = len(found)
        # predictions that overlap another prediction of the same section by nesting
        run["nested_predicted"] = len(nested_of(pred))
        report["runs"][name] = run
    if a.json:
        print(json.dumps(report, indent=2))
        return
    print(f"gold mentions {report['gold']}, in nesting {report['nested_gold']} ({report['nested_share']:.1f} %)")
    for name, run in report["runs"].items():
        print(f"\n{name}: nested gold found {run['nested_found']} of {report['nested_gold']} "
              f"(recall {run['nested_recall']:.2f} %), predictions in nesting {run['nested_predicted']}")
        print(f"  {'type':<10} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}")
        for t in types + ["micro"]:
            m = run[t]
            print(f"  {t:<10} {m['p']:6.2f} {m['r']:6.2f} {m['f1']:6.2f} {m['gold']:6d} {m['pred']:6d}")


if __name__ == "__main__":
    main()
