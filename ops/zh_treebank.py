"""Character-level Chinese treebanks for bioner's parser, from UD Chinese GSD.

    .venv/bin/python ops/zh_treebank.py [--data-dir ../shared/data] [--out data/treebanks/zh-chars]

Writes train.conllu and dev.conllu from `treebanks/zh_gsd_v1.4` (traditional script, UD v1;
the only GSD release with a train split here), converted to simplified script with OpenCC
(`t2s`), and test.conllu from `treebanks/zh_gsdsimp/test.conllu` (simplified, UD v2), all at the
level of bioner's Chinese tokens (`CharTokenizer`: one token per CJK character or punctuation
mark, a run of Latin letters or digits as one token):

- a word's last token is its head token; the word's other tokens attach to it with the label
  `char`; the head token takes the word's head (the head token of the head word) and label;
- XPOS is the word's XPOS with the token's place in the word (`NN-B`, `NN-I`, `NN-E`, or
  `NN-S` for a one-token word), so the tagger learns the segmentation along with the tags;
- MISC holds `Word=N`, the word the token belongs to, for word-level scores
  (benches/zh_parser_eval.py).

GSD 1.4 writes punctuation in ASCII (`,` `.` `(`) where the simplified release and Chinese
clinical text use full-width marks (`，` `。` `（`); punctuation tokens are mapped to the
full-width forms. A word whose OpenCC conversion changes its length is converted character by
character instead (so offsets stay one to one).
"""
import argparse
import os
import sys
import unicodedata

import opencc

PUNCT = {",": "，", ".": "。", "(": "（", ")": "）", ":": "：", ";": "；", "?": "？",
         "!": "！", "「": "“", "」": "”", "『": "‘", "』": "’", "~": "～"}


def is_cjk(c):
    o = ord(c)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF \
        or 0x20000 <= o <= 0x2FA1F


def tokens(word):
    """bioner's CharTokenizer on one word (src/text/tokenize.rs)."""
    out = []
    for c in word:
        if c.isspace():
            continue
        wordish = c.isalnum() and not is_cjk(c)
        if wordish and out and out[-1][1]:
            out[-1][0] += c
        else:
            out.append([c, wordish])
    return [t for t, _ in out]


def read(path):
    sent = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if sent:
                yield sent
            sent = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if "-" in cols[0] or "." in cols[0]:
                continue
            sent.append(cols)
    if sent:
        yield sent


def convert(words, t2s):
    """Word rows (UD columns) -> token rows at bioner's token level."""
    out, head_tok, first_tok = [], {}, {}
    for w in words:
        i, form, upos, xpos = int(w[0]), w[1], w[3], w[4]
        if t2s is not None:
            simple = t2s.convert(form)
            if len(simple) != len(form):
                simple = "".join(t2s.convert(c) for c in form)
            form = simple
        if upos == "PUNCT":
            form = "".join(PUNCT.get(c, c) for c in form)
        toks = tokens(form) or [form]
        first_tok[i] = len(out) + 1
        for k, t in enumerate(toks):
            place = "S" if len(toks) == 1 else "B" if k == 0 else "E" if k == len(toks) - 1 else "I"
            out.append({"form": t, "upos": upos, "xpos": f"{xpos}-{place}", "word": i})
        head_tok[i] = len(out)  # the word's last token
    for w in words:
        i, head, rel = int(w[0]), int(w[6]), w[7]
        for n in range(first_tok[i], head_tok[i]):
            out[n - 1]["head"], out[n - 1]["rel"] = head_tok[i], "char"
        out[head_tok[i] - 1]["head"] = head_tok[head] if head else 0
        out[head_tok[i] - 1]["rel"] = rel
    return out


def write(sentences, path):
    n_tok = n_words = 0
    with open(path, "w", encoding="utf-8") as f:
        for k, toks in enumerate(sentences, 1):
            f.write(f"# sent_id = {k}\n# text = {''.join(t['form'] for t in toks)}\n")
            for j, t in enumerate(toks, 1):
                f.write(f"{j}\t{t['form']}\t_\t{t['upos']}\t{t['xpos']}\t_\t{t['head']}\t"
                        f"{t['rel']}\t_\tWord={t['word']}|SpaceAfter=No\n")
            f.write("\n")
            n_tok += len(toks)
            n_words += len({t["word"] for t in toks})
    print(f"{path}: {len(sentences)} sentences, {n_words} words, {n_tok} tokens")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("BIONER_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="data/treebanks/zh-chars")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t2s = opencc.OpenCC("t2s")
    tb = os.path.join(a.data_dir, "treebanks")
    for split in ["train", "dev"]:
        src = os.path.join(tb, "zh_gsd_v1.4", f"{split}.conllu")
        write([convert(s, t2s) for s in read(src)], os.path.join(a.out, f"{split}.conllu"))
    src = os.path.join(tb, "zh_gsdsimp", "test.conllu")
    write([convert(s, None) for s in read(src)], os.path.join(a.out, "test.conllu"))


if __name__ == "__main__":
    sys.exit(main())
