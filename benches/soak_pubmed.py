"""Malformed-input soak for `bioner run` over PubMed XML (docs/OPERATIONS.md, "Soak").

    soak_pubmed.py make --good 10000 --bad 1000 --out DIR PUBTATOR_FILE...
    soak_pubmed.py check DIR

`make` writes DIR/clean/soak.xml (the good records only) and DIR/dirty/soak.xml (the same good
records, in the same order, with the bad ones mixed in at random places), and DIR/bad.json,
which says what each bad record is. Good records are real PubMed titles and abstracts (the
PubTator samples), each under its own PMID. Bad records, in equal shares of nine kinds:

  unclosed         an element never closed (the record's ArticleTitle)
  crossed          crossed tags inside the abstract (<b>x<i>y</b></i>)
  bad_utf8         bytes that are not UTF-8 in the title
  undefined_entity an entity XML does not define (&bogus;) in the abstract
  huge             a 1 MB abstract (over max_text_bytes)
  missing_pmid     no PMID element
  nonnumeric_pmid  a PMID that is not a number
  duplicate_pmid   the PMID of a good record that came before it, with other text
  unknown_deletion a DeleteCitation of a PMID no input holds

`check` reads the two runs' output tables (DIR/clean/out, DIR/dirty/out, written by
benches/soak.sh) and the summaries (DIR/*/summary.json) and fails unless: every good
record's entities in the dirty run equal the clean run's (span, type, and score within 1e-4);
every bad record except the deletions is in the rejects table, by PMID where it has a usable
one, with a reason naming its fault; the deletions are deletion rows; nothing else is
rejected; and the summaries count all of it.
"""

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

KINDS = [
    "unclosed", "crossed", "bad_utf8", "undefined_entity", "huge", "missing_pmid",
    "nonnumeric_pmid", "duplicate_pmid", "unknown_deletion",
]
HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
        b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n')
TAIL = b"</PubmedArticleSet>\n"
FIRST_PMID = 80_000_000


def pubtator_texts(paths):
    """(title, abstract) of every document with an abstract in PubTator files."""
    out, title = [], None
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            parts = line.split("|", 2)
            if len(parts) == 3 and parts[1] == "t":
                title = parts[2]
            elif len(parts) == 3 and parts[1] == "a" and title is not None:
                if parts[2].strip():
                    out.append((title, parts[2]))
                title = None
    return out


def article(pmid, title, abstract, *, raw_title=None, raw_abstract=None, close_title=True):
    """One PubmedArticle as bytes; raw_* replace the escaped text with bytes as they are."""
    t = raw_title if raw_title is not None else escape(title).encode()
    a = raw_abstract if raw_abstract is not None else escape(abstract).encode()
    pmid_el = b"" if pmid is None else b'<PMID Version="1">' + str(pmid).encode() + b"</PMID>"
    return (b'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">' + pmid_el
            + b'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><PubDate>'
            b"<Year>2020</Year></PubDate></JournalIssue><Title>Soak journal</Title></Journal>"
            b"<ArticleTitle>" + t + (b"</ArticleTitle>" if close_title else b"")
            + b"<Abstract><AbstractText>" + a + b"</AbstractText></Abstract>"
            b"<Language>eng</Language></Article></MedlineCitation></PubmedArticle>\n")


def make(args):
    rng = random.Random(args.seed)
    texts = pubtator_texts(args.pubtator)
    if not texts:
        sys.exit("no documents with abstracts in the PubTator files")
    good = [(FIRST_PMID + i, *texts[i % len(texts)]) for i in range(args.good)]
    bad = []
    for j in range(args.bad):
        kind = KINDS[j % len(KINDS)]
        pmid = FIRST_PMID + args.good + 1 + j
        title, abstract = texts[rng.randrange(len(texts))]
        at = rng.randrange(1, args.good)  # inserted before good record `at`
        if kind == "unclosed":
            rec = article(pmid, title, abstract, close_title=False)
        elif kind == "crossed":
            rec = article(pmid, title, "", raw_abstract=b"<b>x<i>y</b></i> " + escape(abstract).encode())
        elif kind == "bad_utf8":
            rec = article(pmid, "", abstract, raw_title=escape(title).encode() + b" \xff\xfe\xc3(")
        elif kind == "undefined_entity":
            rec = article(pmid, title, "", raw_abstract=escape(abstract).encode() + b" &bogus;")
        elif kind == "huge":
            rec = article(pmid, title, ("x" * 63 + " ") * (1 << 14))
        elif kind == "missing_pmid":
            pmid = None
            rec = article(None, title, abstract)
        elif kind == "nonnumeric_pmid":
            pmid = f"x{j}y"
            rec = article(pmid, title, abstract)
        elif kind == "duplicate_pmid":
            pmid = good[rng.randrange(0, at)][0]
            rec = article(pmid, "Another record under an existing PMID.", abstract)
        else:  # unknown_deletion
            pmid = 70_000_000 + j
            rec = b'<DeleteCitation><PMID Version="1">' + str(pmid).encode() + b"</PMID></DeleteCitation>\n"
        bad.append({"kind": kind, "pmid": None if pmid is None else str(pmid), "before": at, "rec": rec})
    out = Path(args.out)
    for d in ("clean", "dirty"):
        (out / d).mkdir(parents=True, exist_ok=True)
    with open(out / "clean" / "soak.xml", "wb") as f:
        f.write(HEAD)
        for g in good:
            f.write(article(*g))
        f.write(TAIL)
    before = {}
    for b in bad:
        before.setdefault(b["before"], []).append(b)
    with open(out / "dirty" / "soak.xml", "wb") as f:
        f.write(HEAD)
        for i, g in enumerate(good):
            for b in before.get(i, []):
                f.write(b["rec"])
            f.write(article(*g))
        f.write(TAIL)
    for b in bad:
        del b["rec"]
    (out / "bad.json").write_text(json.dumps({"good": args.good, "bad": bad}, indent=1))
    print(json.dumps({"good": args.good, "bad": Counter(b["kind"] for b in bad)}))


# What the reject reason of each kind must mention (lower case).
REASON = {
    "unclosed": "malformed xml",
    "crossed": "malformed xml",
    "bad_utf8": "utf-8",
    "undefined_entity": "malformed xml",
    "huge": "over the limit",
    "missing_pmid": "pmid",
    "nonnumeric_pmid": "pmid",
    "duplicate_pmid": "duplicate id",
}


def check(args):
    import duckdb

    root = Path(args.dir)
    spec = json.loads((root / "bad.json").read_text())
    con = duckdb.connect()
    q = lambda sql: con.execute(sql).fetchall()
    problems = []

    def entities(run):
        rows = q(f"""SELECT doc_id, section, char_start, char_end, entity_type, text, score
                     FROM '{root}/{run}/out/entities/*.parquet'""")
        return {r[:6]: r[6] for r in rows}

    clean, dirty = entities("clean"), entities("dirty")
    good_ids = {str(FIRST_PMID + i) for i in range(spec["good"])}
    dirty_good = {k: v for k, v in dirty.items() if k[0] in good_ids}
    if set(clean) != set(dirty_good):
        only_c = sorted(set(clean) - set(dirty_good))[:5]
        only_d = sorted(set(dirty_good) - set(clean))[:5]
        problems.append(f"entities differ: only clean {only_c}, only dirty {only_d}")
    worst = max((abs(clean[k] - dirty_good[k]) for k in set(clean) & set(dirty_good)), default=0)
    if worst > 1e-4:
        problems.append(f"scores differ by up to {worst}")
    others = sorted({k[0] for k in dirty} - good_ids)
    if others:
        problems.append(f"entities of documents that are not good records: {others[:5]}")
    docs_clean = {r[0] for r in q(f"SELECT doc_id FROM '{root}/clean/out/documents/*.parquet' WHERE NOT deleted")}
    docs_dirty = {r[0] for r in q(f"SELECT doc_id FROM '{root}/dirty/out/documents/*.parquet' WHERE NOT deleted")}
    if docs_clean != good_ids or docs_dirty != good_ids:
        problems.append(f"documents: clean {len(docs_clean)}, dirty {len(docs_dirty)}, good {len(good_ids)}")
    deleted = {r[0] for r in q(f"SELECT doc_id FROM '{root}/dirty/out/documents/*.parquet' WHERE deleted")}
    want_deleted = {b["pmid"] for b in spec["bad"] if b["kind"] == "unknown_deletion"}
    if deleted != want_deleted:
        problems.append(f"deletion rows: {len(deleted)}, expected {len(want_deleted)}")
    rejects = q(f"SELECT doc_id, reason FROM '{root}/dirty/out/rejects/*.parquet'")
    rejected = [b for b in spec["bad"] if b["kind"] != "unknown_deletion"]
    if len(rejects) != len(rejected):
        problems.append(f"{len(rejects)} rejects, expected {len(rejected)}")
    by_id = {}
    for doc_id, reason in rejects:
        by_id.setdefault(doc_id, []).append(reason.lower())
    per_kind = Counter()
    for b in rejected:
        reasons = by_id.get(b["pmid"] if b["kind"] not in ("missing_pmid", "nonnumeric_pmid") else None, [])
        if b["kind"] in ("missing_pmid", "nonnumeric_pmid"):
            # no usable id: counted among the id-less rejects
            reasons = by_id.get(None, [])
        if any(REASON[b["kind"]] in r for r in reasons):
            per_kind[b["kind"]] += 1
        else:
            problems.append(f"{b['kind']} record {b['pmid']}: no reject with {REASON[b['kind']]!r} ({reasons[:2]})")
    id_less = len(by_id.get(None, []))
    want_id_less = sum(b["kind"] in ("missing_pmid", "nonnumeric_pmid") for b in rejected)
    if id_less != want_id_less:
        problems.append(f"{id_less} rejects without id, expected {want_id_less}")
    clean_rejects = q(f"SELECT count(*) FROM '{root}/clean/out/rejects/*.parquet'")[0][0]
    if clean_rejects:
        problems.append(f"the clean run rejected {clean_rejects} records")
    summaries = {run: json.loads((root / run / "summary.json").read_text()) for run in ("clean", "dirty")}
    reason_counts = Counter(r for _, r in rejects)
    sd, sc = summaries["dirty"], summaries["clean"]
    if sd.get("rejects") != len(rejected) or sd.get("deletions") != len(want_deleted):
        problems.append(f"dirty summary: rejects {sd.get('rejects')}, deletions {sd.get('deletions')}")
    if sd.get("documents") != spec["good"] or sc.get("documents") != spec["good"] or sc.get("rejects"):
        problems.append(f"summaries: documents {sc.get('documents')} / {sd.get('documents')}")
    if sd.get("entities") != sc.get("entities"):
        problems.append(f"summaries: entities {sc.get('entities')} / {sd.get('entities')}")
    report = {
        "good": spec["good"],
        "bad": len(spec["bad"]),
        "entities_clean": len(clean),
        "entities_dirty_good": len(dirty_good),
        "max_score_difference": worst,
        "rejects": len(rejects),
        "rejects_matched_by_kind": dict(per_kind),
        "deletion_rows": len(deleted),
        "summary_dirty": {k: summaries["dirty"].get(k) for k in ("documents", "deletions", "rejects", "entities", "rejects_by_reason")},
        "summary_clean": {k: summaries["clean"].get(k) for k in ("documents", "deletions", "rejects", "entities")},
        "top_reasons": [[r[:100], n] for r, n in reason_counts.most_common(6)],
        "problems": problems,
    }
    print(json.dumps(report, indent=1))
    sys.exit(1 if problems else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--good", type=int, default=10_000)
    m.add_argument("--bad", type=int, default=1_000)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--out", required=True)
    m.add_argument("pubtator", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("dir")
    args = p.parse_args()
    make(args) if args.cmd == "make" else check(args)


if __name__ == "__main__":
    main()
