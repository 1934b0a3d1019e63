"""The peer of `bioner train`: Hugging Face transformers' token-classification fine-tuning of the
same encoder on the same corpus split, with the same epoch budget, batch size and learning-rate
schedule, and the same model selection (dev F1 after every epoch, the best epoch kept, a stop
after `--patience` epochs without a better one, the learning rate decaying to 0 at the cap);
its test predictions are written as a mentions table so that bioner's scorer
(`bioner eval --gold --pred`) scores both systems the same way.

Reads bioner's corpus tables (sentences.parquet with tokens and offsets, mentions.parquet,
documents.parquet). Run through benches/ner_vs_transformers.sh.

    python benches/hf_token_classification.py --corpus data/corpora/bc5cdr \
        --encoder models/all-MiniLM-L6-v2 --epochs 3 --out /tmp/hf-pred.parquet
"""

import argparse
import json
import random
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup


def load_split(path, limit=None):
    sents = pq.read_table(f"{path}/sentences.parquet").to_pylist()
    if limit:
        sents = sents[:limit]
    mentions = pq.read_table(f"{path}/mentions.parquet").to_pylist()
    by_section = {}
    for m in mentions:
        by_section.setdefault((m["doc_id"], m["section_index"]), []).append(m)
    out = []
    for s in sents:
        tags = ["O"] * len(s["tokens"])
        for m in by_section.get((s["doc_id"], s["section_index"]), []):
            if not (s["char_start"] <= m["char_start"] and m["char_end"] <= s["char_end"]):
                continue
            idx = [i for i, (a, b) in enumerate(zip(s["token_starts"], s["token_ends"]))
                   if b > m["char_start"] and a < m["char_end"]]
            if not idx or any(tags[i] != "O" for i in idx):
                continue  # nested or overlapping: a flat tagger keeps the first
            tags[idx[0]] = "B-" + m["entity_type"]
            for i in idx[1:]:
                tags[i] = "I-" + m["entity_type"]
        out.append((s, tags))
    return out


def encode(tokenizer, batch, label_ids, max_len=512):
    enc = tokenizer([s["tokens"] for s, _ in batch], is_split_into_words=True, truncation=True,
                    max_length=max_len, padding=True, return_tensors="pt")
    labels = []
    for k, (_, tags) in enumerate(batch):
        prev = None
        row = []
        for w in enc.word_ids(k):
            row.append(-100 if w is None or w == prev else label_ids[tags[w]])
            prev = w
        labels.append(row)
    enc["labels"] = torch.tensor(labels)
    return enc


def spans(tags):
    out, cur = [], None
    for i, t in enumerate(tags + ["O"]):
        if cur and not (t.startswith("I-") and t[2:] == cur[2]):
            out.append(tuple(cur))
            cur = None
        if t.startswith("B-") or (t.startswith("I-") and cur is None):
            cur = [i, i + 1, t[2:]]
        elif cur:
            cur[1] = i + 1
    return out


def predict_tags(model, tok, batch, labels, label_ids):
    """Word-level tags of a batch: the first subword's label of each word."""
    enc = encode(tok, batch, label_ids)
    enc.pop("labels")
    pred = model(**enc).logits.argmax(-1).tolist()
    out = []
    for k, (s, _) in enumerate(batch):
        tags, prev = ["O"] * len(s["tokens"]), None
        for j, w in enumerate(enc.word_ids(k)):
            if w is not None and w != prev:
                tags[w] = labels[pred[k][j]]
            prev = w
        out.append(tags)
    return out


def dev_f1(model, tok, dev, labels, label_ids):
    """Strict micro F1 of the spans decoded from predicted vs gold tags (model selection)."""
    model.eval()
    tp = fp = fn = 0
    order = sorted(range(len(dev)), key=lambda i: len(dev[i][0]["tokens"]))
    with torch.no_grad():
        for b in range(0, len(order), 64):
            batch = [dev[i] for i in order[b:b + 64]]
            for (_, gold), tags in zip(batch, predict_tags(model, tok, batch, labels, label_ids)):
                g, p = set(spans(gold)), set(spans(tags))
                tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    model.train()
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--epochs", type=int, default=3, help="epoch cap")
    ap.add_argument("--patience", type=int, default=2,
                    help="stop after this many epochs without a better dev F1")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-train", type=int, default=None, help="first N training sentences (quick checks)")
    ap.add_argument("--max-test", type=int, default=None, help="first N test sentences (quick checks)")
    ap.add_argument("--out", required=True, help="predicted mentions Parquet (test split)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(a.threads)

    train = load_split(f"{a.corpus}/train", a.max_train)
    dev = load_split(f"{a.corpus}/dev", a.max_test)
    # Where the dev split is carved out of the training records (CCKS 2017: records 271-300),
    # bioner train leaves those documents out of training; so does the peer.
    dev_docs = set(pq.read_table(f"{a.corpus}/dev/documents.parquet", columns=["doc_id"])
                   .column("doc_id").to_pylist())
    kept = [(s, tags) for s, tags in train if s["doc_id"] not in dev_docs]
    if len(kept) < len(train):
        print(json.dumps({"train_sentences_left_out_as_dev": len(train) - len(kept)}), flush=True)
    train = kept
    test = load_split(f"{a.corpus}/test", a.max_test)
    types = sorted({t[2:] for _, tags in train for t in tags if t != "O"})
    labels = ["O"] + [f"{p}-{t}" for t in types for p in "BI"]
    label_ids = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(a.encoder)
    model = AutoModelForTokenClassification.from_pretrained(
        a.encoder, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_ids)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    steps = a.epochs * ((len(train) + a.batch - 1) // a.batch)
    sched = get_linear_schedule_with_warmup(opt, int(a.warmup * steps), steps)
    started = time.time()
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(a.epochs):
        model.train()
        order = list(range(len(train)))
        random.shuffle(order)
        t0, total = time.time(), 0.0
        for b in range(0, len(order), a.batch):
            batch = [train[i] for i in order[b:b + a.batch]]
            loss = model(**encode(tok, batch, label_ids)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += loss.item() * len(batch)
        speed = len(train) / (time.time() - t0)
        f1 = dev_f1(model, tok, dev, labels, label_ids)
        improved = f1 > best
        if improved:
            best, best_epoch = f1, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        print(json.dumps({"epoch": epoch + 1, "loss": total / len(train), "dev_f1": round(100 * f1, 2),
                          "best": improved, "sentences_per_s": speed}), flush=True)
        if epoch + 1 - best_epoch >= a.patience:
            print(json.dumps({"early_stop": epoch + 1}), flush=True)
            break
    train_s = time.time() - started
    model.load_state_dict(best_state)

    model.eval()
    docs = {(d["doc_id"], d["section_index"]): d["text"]
            for d in pq.read_table(f"{a.corpus}/test/documents.parquet").to_pylist()}
    rows = {k: [] for k in ["doc_id", "section_index", "char_start", "char_end", "byte_start",
                            "byte_end", "text", "entity_type"]}
    t0 = time.time()
    order = sorted(range(len(test)), key=lambda i: len(test[i][0]["tokens"]))
    with torch.no_grad():
        for b in range(0, len(order), 64):
            batch = [test[i] for i in order[b:b + 64]]
            for (s, _), tags in zip(batch, predict_tags(model, tok, batch, labels, label_ids)):
                text = docs[(s["doc_id"], s["section_index"])]
                for i, e, ty in spans(tags):
                    cs, ce = s["token_starts"][i], s["token_ends"][e - 1]
                    rows["doc_id"].append(s["doc_id"])
                    rows["section_index"].append(s["section_index"])
                    rows["char_start"].append(cs)
                    rows["char_end"].append(ce)
                    rows["byte_start"].append(len(text[:cs].encode()))
                    rows["byte_end"].append(len(text[:ce].encode()))
                    rows["text"].append(text[cs:ce])
                    rows["entity_type"].append(ty)
    schema = pa.schema([("doc_id", pa.string()), ("section_index", pa.int32()),
                        ("char_start", pa.int32()), ("char_end", pa.int32()),
                        ("byte_start", pa.int32()), ("byte_end", pa.int32()),
                        ("text", pa.string()), ("entity_type", pa.string())])
    pq.write_table(pa.table(rows, schema=schema), a.out)
    print(json.dumps({"train_seconds": round(train_s), "best_epoch": best_epoch,
                      "best_dev_f1": round(100 * best, 2), "train_sentences": len(train),
                      "test_sentences": len(test), "predict_seconds": round(time.time() - t0, 1),
                      "mentions": len(rows["doc_id"]), "transformers": __import__("transformers").__version__}))


if __name__ == "__main__":
    main()
