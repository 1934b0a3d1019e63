"""The peer of `bioner run` for benches/run_vs_transformers.sh: a Hugging Face transformers
token-classification pipeline over whole PubMed abstracts on CPU, timed end to end
(tokenisation, forward pass, entity aggregation), with the process's peak RSS.

The model is the encoder bioner's default model is built on (models/all-MiniLM-L6-v2, a BERT
directory) with a *randomly initialised* 5-label BIO head (Chemical, Disease): this measures
speed and memory only; the entities it finds are meaningless.

Two subcommands:

    # PubTator sample files -> Parquet (pmid, title, abstract), documents with an abstract
    python benches/hf_ner_pipeline.py prepare --out out/bench-run/x/abstracts.parquet \
        --max-docs 1000 FILE.txt [FILE.txt ...]

    # the pipeline over those abstracts at one batch size; one JSON line on stdout
    python benches/hf_ner_pipeline.py bench --input out/bench-run/x/abstracts.parquet \
        --encoder models/all-MiniLM-L6-v2 --batch 8 [--max-docs 200]

`bench` runs one batch size per process, so that its peak RSS (ru_maxrss, and /usr/bin/time -v
in the driver script) belongs to that batch size alone. The input of each document is
`title + " " + abstract`, one pipeline input per document. Texts longer than the encoder's
512-subword window are not truncated: the pipeline's `stride` option splits them into
overlapping 512-subword windows (STRIDE subwords of overlap) and merges the entities.
Documents are fed in input order (not sorted by length). Timing covers one pass over all
documents after a warm-up pass over the first 10; model loading is not timed.
"""

import argparse
import json
import os
import resource
import sys
import time

STRIDE = 128
LABELS = {0: "O", 1: "B-Chemical", 2: "I-Chemical", 3: "B-Disease", 4: "I-Disease"}


def prepare(a):
    """PubTator (`PMID|t|title`, `PMID|a|abstract`, annotation lines, blank line between
    documents; CRLF) -> Parquet with the first `max_docs` documents that have an abstract."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, seen = [], set()

    def flush(doc):
        if doc and doc.get("abstract", "").strip() and doc["pmid"] not in seen:
            seen.add(doc["pmid"])
            rows.append(doc)

    for path in a.files:
        doc = None
        with open(path, encoding="utf-8", newline="") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line:
                    flush(doc)
                    doc = None
                    continue
                head, sep, rest = line.partition("|")
                if sep and rest[:2] in ("t|", "a|") and head.isdigit():
                    if doc is None or doc["pmid"] != head:
                        flush(doc)
                        doc = {"pmid": head, "title": "", "abstract": ""}
                    doc["title" if rest[0] == "t" else "abstract"] = rest[2:]
                # anything else is an annotation line (PMID\tstart\tend\t...): not needed
            flush(doc)
        if len(rows) >= a.max_docs:
            break
    rows = rows[: a.max_docs]
    schema = pa.schema([("pmid", pa.string()), ("title", pa.string()), ("abstract", pa.string())])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), a.out)
    print(json.dumps({"documents": len(rows), "out": a.out}))


def bench(a):
    import pyarrow.parquet as pq
    import torch
    import transformers
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    rows = pq.read_table(a.input).to_pylist()
    if a.max_docs:
        rows = rows[: a.max_docs]
    texts = [f"{r['title'] or ''} {r['abstract'] or ''}".strip() for r in rows]

    t_load = time.perf_counter()
    # tokenizer.json has truncation (and padding) at 128 baked in; the pipeline calls the
    # tokenizer with truncation=True and no max_length, which resets it to model_max_length.
    tok = AutoTokenizer.from_pretrained(a.encoder)
    tok.model_max_length = 512
    model = AutoModelForTokenClassification.from_pretrained(
        a.encoder, num_labels=len(LABELS), id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()})
    model.eval()
    ner = pipeline("token-classification", model=model, tokenizer=tok,
                   aggregation_strategy="simple", device=-1, stride=STRIDE)
    load_s = time.perf_counter() - t_load

    # How many texts need more than one 512-subword window (510 + [CLS] + [SEP]).
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False)["input_ids"]]
    long_docs = sum(1 for n in lengths if n > 512)

    with torch.inference_mode():
        ner(texts[:10], batch_size=a.batch)  # warm-up
        t0 = time.perf_counter()
        out = ner(texts, batch_size=a.batch)
        seconds = time.perf_counter() - t0
    entities = {}
    for doc in out:
        for e in doc:
            entities[e["entity_group"]] = entities.get(e["entity_group"], 0) + 1
    print(json.dumps({
        "system": "transformers pipeline", "batch": a.batch, "documents": len(texts),
        "seconds": seconds, "docs_per_s": len(texts) / seconds, "load_seconds": load_s,
        "entities": entities, "subwords_mean": sum(lengths) / len(lengths),
        "subwords_max": max(lengths), "docs_over_512_subwords": long_docs, "stride": STRIDE,
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "threads": torch.get_num_threads(), "transformers": transformers.__version__,
        "torch": torch.__version__,
    }), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="PubTator sample files -> abstracts Parquet")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--max-docs", type=int, default=1000)
    b = sub.add_parser("bench", help="time the HF pipeline at one batch size")
    b.add_argument("--input", required=True)
    b.add_argument("--encoder", default="models/all-MiniLM-L6-v2")
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--max-docs", type=int, default=None, help="first N documents only")
    b.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    prepare(a) if a.cmd == "prepare" else bench(a)


if __name__ == "__main__":
    sys.exit(main())
