"""Attachment scores of bioner's Chinese (character-level) parser, at token and word level.

    target/release/bioner parser predict --model models/parser/zh-gsd.bnrdep \
        --conllu data/treebanks/zh-chars/test.conllu --out /tmp/zh-pred.conllu
    .venv/bin/python benches/zh_parser_eval.py data/treebanks/zh-chars/test.conllu /tmp/zh-pred.conllu

GOLD is a file written by ops/zh_treebank.py (tokens with `Word=N` in MISC, a word's last token
its head token); PRED the same tokens with predicted heads. Prints:
- token-level UAS (every token; and without punctuation);
- word-level UAS on the gold segmentation, the number comparable to word-level parsers: a
  word's predicted head is the word holding the predicted head of its head token (punctuation
  words excluded in the second figure);
- the share of tokens whose place in the word (B/I/E/S, from the predicted XPOS) is right,
  and the intra-word arcs (label `char`) found.
"""
import sys


def read(path):
    sents, cur = [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if cur:
                sents.append(cur)
            cur = []
        elif not line.startswith("#"):
            c = line.split("\t")
            misc = dict(kv.split("=", 1) for kv in c[9].split("|") if "=" in kv)
            cur.append({"form": c[1], "upos": c[3], "xpos": c[4], "head": int(c[6]),
                        "rel": c[7], "word": int(misc.get("Word", 0))})
    if cur:
        sents.append(cur)
    return sents


def main():
    gold, pred = read(sys.argv[1]), read(sys.argv[2])
    assert len(gold) == len(pred), "different sentence counts"
    t = t_ok = tp = tp_ok = w = w_ok = wp = wp_ok = place = intra = intra_ok = 0
    for g, p in zip(gold, pred):
        assert [x["form"] for x in g] == [x["form"] for x in p], "different tokens"
        head_tok = {}
        for i, x in enumerate(g, 1):
            head_tok[x["word"]] = i  # the word's last token
        word_of = {i: x["word"] for i, x in enumerate(g, 1)}
        word_of[0] = 0
        gold_word_head = {}
        for x in g:
            if x["rel"] != "char":
                gold_word_head[x["word"]] = word_of[x["head"]]
        for i, (x, y) in enumerate(zip(g, p), 1):
            ok = x["head"] == y["head"]
            t += 1
            t_ok += ok
            if x["upos"] != "PUNCT":
                tp += 1
                tp_ok += ok
            place += x["xpos"].rsplit("-", 1)[-1] == y["xpos"].rsplit("-", 1)[-1]
            if x["rel"] == "char":
                intra += 1
                intra_ok += ok
        for word, h in head_tok.items():
            predicted = word_of[p[h - 1]["head"]]
            ok = predicted == gold_word_head[word]
            w += 1
            w_ok += ok
            if g[h - 1]["upos"] != "PUNCT":
                wp += 1
                wp_ok += ok
    pct = lambda a, b: 100.0 * a / max(b, 1)
    print(f"sentences {len(gold)}, words {w}, tokens {t}")
    print(f"token-level UAS {pct(t_ok, t):.2f} (without punctuation {pct(tp_ok, tp):.2f})")
    print(f"word-level UAS on the gold segmentation {pct(w_ok, w):.2f} "
          f"(without punctuation {pct(wp_ok, wp):.2f})")
    print(f"place in word (B/I/E/S) {pct(place, t):.2f}; intra-word arcs {pct(intra_ok, intra):.2f} "
          f"of {intra}")


if __name__ == "__main__":
    main()
