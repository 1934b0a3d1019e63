"""Where a system's entity errors come from: each gold mention it misses and each prediction
that is wrong, by cause, from two mentions tables (schemas/corpus_mentions.md columns).

    python benches/ner_errors.py GOLD.parquet PRED.parquet [PRED2.parquet ...]

Causes, for a missed gold mention (false negative) — and the same, seen from the prediction,
for a false positive:
  type      the exact span is predicted with another type;
  boundary  an overlapping span of the same type is predicted (start or end off);
  both      an overlapping span of another type, boundaries off too;
  missed    nothing overlaps it (for a false positive: spurious, no gold overlaps it).
Per type as well, and mention length in words (longer than 3 is where boundaries fail).
"""

import collections
import json
import sys

import pyarrow.parquet as pq


def load(path):
    rows = pq.read_table(path, columns=["doc_id", "section_index", "char_start", "char_end",
                                        "entity_type", "text"]).to_pylist()
    by_section = collections.defaultdict(list)
    for r in rows:
        by_section[(r["doc_id"], r["section_index"])].append(
            (r["char_start"], r["char_end"], r["entity_type"], r["text"]))
    return by_section


def causes(mine, other):
    """For each mention in `mine` not matched exactly (span and type) in `other`: its cause."""
    out = collections.Counter()
    per_type = collections.defaultdict(collections.Counter)
    for key, spans in mine.items():
        theirs = other.get(key, [])
        exact = {(s, e, t) for s, e, t, _ in theirs}
        for s, e, t, _ in spans:
            if (s, e, t) in exact:
                continue
            overlapping = [(a, b, u) for a, b, u, _ in theirs if a < e and s < b]
            if any((a, b) == (s, e) for a, b, _ in overlapping):
                cause = "type"
            elif any(u == t for _, _, u in overlapping):
                cause = "boundary"
            elif overlapping:
                cause = "both"
            else:
                cause = "missed"
            out[cause] += 1
            per_type[t][cause] += 1
    return out, per_type


def main():
    gold = load(sys.argv[1])
    n_gold = sum(len(v) for v in gold.values())
    for path in sys.argv[2:]:
        pred = load(path)
        n_pred = sum(len(v) for v in pred.values())
        fn, fn_type = causes(gold, pred)
        fp, fp_type = causes(pred, gold)
        tp = n_gold - sum(fn.values())
        p, r = tp / max(n_pred, 1), tp / max(n_gold, 1)
        print(json.dumps({
            "pred": path, "gold": n_gold, "predicted": n_pred, "tp": tp,
            "precision": round(100 * p, 2), "recall": round(100 * r, 2),
            "f1": round(200 * p * r / max(p + r, 1e-12), 2),
            "false_negatives": dict(fn), "false_positives": {
                ("spurious" if k == "missed" else k): v for k, v in fp.items()},
            "false_negatives_per_type": {t: dict(c) for t, c in sorted(fn_type.items())},
        }, indent=1))


if __name__ == "__main__":
    main()
