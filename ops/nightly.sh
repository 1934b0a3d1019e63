#!/usr/bin/env bash
# The nightly run over PubMed's daily update files (docs/OPERATIONS.md, "Scheduling"); started
# by ops/systemd/bioner-nightly.timer or the line in ops/cron.example. Idempotent: a second run
# on the same day downloads nothing new and skips every file the manifest has as finished.
#
#   1. optionally mirrors the update files: only when BIONER_PUBMED_MIRROR_URL is set,
#      pubmed*n*.xml.gz and their .md5 files into BIONER_PUBMED_DIR (wget, timestamping, so
#      only new or changed files are fetched); each new file is checked against its .md5 and a
#      bad one is moved aside to BIONER_PUBMED_DIR/bad/ (the next mirror run fetches it again);
#   2. runs `bioner run BIONER_PIPELINE --json --quiet` over BIONER_PUBMED_DIR/pubmed*n*.xml.gz,
#      with the metrics file BIONER_METRICS_FILE, and writes the JSON summary to
#      BIONER_LOG_DIR/nightly-<UTC time>.json (latest.json links to the newest);
#   3. exits with bioner's status: 0 all done, 1 some input failed (it is not in the manifest,
#      so the next night retries it) or the run could not start (the message says why).
#      Also 1 when a download failed or did not match its .md5 (retried the next night),
#      2 for a problem of this script's own settings, 75 when another run holds the lock.
#
# Arguments go to `bioner run` (e.g. `--set model.device=cuda`). Settings (environment):
#   BIONER_BIN                binary (default: target/release/bioner in the install root, the
#                             folder above ops/; the run's relative paths are taken from there)
#   BIONER_PIPELINE           pipeline file (default: pipelines/pubmed-updates.toml)
#   BIONER_PUBMED_DIR         update files (default: /data/pubmed/updatefiles)
#   BIONER_PUBMED_MIRROR_URL  folder to mirror them from, e.g. NCBI's pubmed/updatefiles/
#                             (default: none; the files are put there by something else)
#   BIONER_WGET_OPTS          extra wget options, split at spaces (e.g. "--limit-rate=20m")
#   BIONER_LOG_DIR            JSON summaries (default: /var/log/bioner)
#   BIONER_METRICS_FILE       Prometheus text file, `run.metrics` (default:
#                             /var/lib/bioner/metrics/bioner-nightly.prom; empty: none)
#   BIONER_LOCK_FILE          lock against overlapping runs (default: /run/lock/bioner-nightly.lock)
#   BIONER_KEEP_DAYS          summaries older than this many days are deleted (default: 90)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BIN="${BIONER_BIN:-$ROOT/target/release/bioner}"
PIPELINE="${BIONER_PIPELINE:-pipelines/pubmed-updates.toml}"
PUBMED_DIR="${BIONER_PUBMED_DIR:-/data/pubmed/updatefiles}"
PUBMED_DIR="${PUBMED_DIR%/}"
MIRROR_URL="${BIONER_PUBMED_MIRROR_URL:-}"
LOG_DIR="${BIONER_LOG_DIR:-/var/log/bioner}"
METRICS_FILE="${BIONER_METRICS_FILE-/var/lib/bioner/metrics/bioner-nightly.prom}"
LOCK_FILE="${BIONER_LOCK_FILE:-/run/lock/bioner-nightly.lock}"
KEEP_DAYS="${BIONER_KEEP_DAYS:-90}"
PATTERN="pubmed*n*.xml.gz"

log() { printf '[nightly] %s\n' "$*" >&2; }
die() { printf '[nightly] error: %s\n' "$*" >&2; exit 2; }

# A TOML basic string (for --set values): backslashes and quotes escaped.
toml_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

[ -x "$BIN" ] || die "no bioner binary at $BIN (build it with \`cargo build --release\` in $ROOT, or set BIONER_BIN)"
[ -f "$PIPELINE" ] || die "no pipeline file $PIPELINE (set BIONER_PIPELINE)"
[[ "$KEEP_DAYS" =~ ^[0-9]+$ ]] || die "BIONER_KEEP_DAYS must be a number of days, not \"$KEEP_DAYS\""

# ------------------------------------------------------------------ lock
# One run at a time. When started under `flock LOCK_FILE ...` (ops/cron.example) the lock is
# already held through a descriptor inherited from flock(1): take it on that descriptor (same
# open file, so no conflict); otherwise open the file ourselves.
lock_fd=""
lock_real="$(realpath -m -- "$LOCK_FILE")"
for fd_path in "/proc/$$/fd"/*; do
  if [ "$(readlink -- "$fd_path" 2>/dev/null || true)" = "$lock_real" ]; then
    lock_fd="${fd_path##*/}"
    break
  fi
done
if [ -z "$lock_fd" ]; then
  : >>"$LOCK_FILE" 2>/dev/null || true   # create it if missing (it may belong to another user)
  exec 9<"$LOCK_FILE" || die "cannot open the lock file $LOCK_FILE (set BIONER_LOCK_FILE)"
  lock_fd=9
fi
if ! flock -n "$lock_fd"; then
  log "another nightly run holds $LOCK_FILE; not starting"
  exit 75
fi

# A stop request (systemctl stop, timeout, Ctrl-C) reaches bioner too, which finishes the work in
# flight and exits 0; this script then writes the summary as usual. Before bioner has started,
# it only stops this script from starting it.
stop_requested=""
trap 'stop_requested=1; log "stop requested"' TERM INT

problems=0

# ------------------------------------------------------------------ 1. mirror and verify
if [ -n "$MIRROR_URL" ]; then
  command -v wget >/dev/null || die "BIONER_PUBMED_MIRROR_URL is set but wget is not installed"
  mkdir -p -- "$PUBMED_DIR"
  log "mirroring ${MIRROR_URL%/}/$PATTERN (+ .md5) into $PUBMED_DIR"
  # One level, no parent, flat; --timestamping fetches only files that are new or changed
  # upstream. The directory listing is a plain index, hence robots=off.
  read -r -a wget_extra <<<"${BIONER_WGET_OPTS:-}"
  if ! wget --no-verbose --recursive --level=1 --no-parent --no-directories --timestamping \
      -e robots=off --accept "$PATTERN,$PATTERN.md5" --directory-prefix="$PUBMED_DIR" \
      "${wget_extra[@]}" "${MIRROR_URL%/}/"; then
    log "error: the download from $MIRROR_URL failed (wget status above); going on with the files already here"
    problems=$((problems + 1))
  fi
  # The listing page wget read to find the files (if it left one behind).
  rm -f -- "$PUBMED_DIR/index.html" "$PUBMED_DIR/index.html.tmp"
fi

# Check each file that has a .md5 next to it and has not been checked as it is now (size,
# modification time and expected sum are remembered in .md5-verified/NAME).
verified_dir="$PUBMED_DIR/.md5-verified"
shopt -s nullglob
for f in "$PUBMED_DIR"/pubmed*n*.xml.gz; do   # = $PATTERN
  [ -z "$stop_requested" ] || break
  name="${f##*/}"
  if [ ! -f "$f.md5" ]; then
    [ -z "$MIRROR_URL" ] || log "warning: $name has no $name.md5 next to it; not verified"
    continue
  fi
  want="$(grep -oE '[0-9a-fA-F]{32}' -- "$f.md5" | tail -n 1 | tr 'A-F' 'a-f' || true)"
  if [ -z "$want" ]; then
    log "warning: $name.md5 holds no MD5 sum; $name not verified"
    continue
  fi
  stamp="$(stat -c '%s %Y' -- "$f") $want"
  if [ "$(cat -- "$verified_dir/$name" 2>/dev/null || true)" = "$stamp" ]; then
    continue
  fi
  got="$(md5sum -- "$f" | cut -d' ' -f1)"
  if [ "$got" = "$want" ]; then
    mkdir -p -- "$verified_dir"
    printf '%s\n' "$stamp" >"$verified_dir/$name"
  else
    mkdir -p -- "$PUBMED_DIR/bad"
    aside="$PUBMED_DIR/bad/$name.$(date -u +%Y%m%dT%H%M%SZ)"
    mv -- "$f" "$aside"
    rm -f -- "$verified_dir/$name"
    then_what="replace it and run again"
    [ -z "$MIRROR_URL" ] || then_what="the next mirror run downloads it again"
    log "error: $name does not match its .md5 (expected $want, got $got): moved to $aside; $then_what"
    problems=$((problems + 1))
  fi
done

if [ -n "$stop_requested" ]; then
  log "stopped before the run; nothing was started"
  exit 0
fi

inputs=("$PUBMED_DIR"/pubmed*n*.xml.gz)   # = $PATTERN
shopt -u nullglob
[ "${#inputs[@]}" -gt 0 ] || die "no update files $PUBMED_DIR/$PATTERN (set BIONER_PUBMED_DIR, or BIONER_PUBMED_MIRROR_URL to download them)"

# ------------------------------------------------------------------ 2. the run
mkdir -p -- "$LOG_DIR"
started="$(date -u +%Y%m%dT%H%M%SZ)"
summary="$LOG_DIR/nightly-$started.json"
args=(run "$PIPELINE" --json --quiet --set "source.paths=[$(toml_str "$PUBMED_DIR/$PATTERN")]")
if [ -n "$METRICS_FILE" ]; then
  mkdir -p -- "$(dirname -- "$METRICS_FILE")"
  args+=(--set "run.metrics=$(toml_str "$METRICS_FILE")")
fi
args+=("$@")
log "${#inputs[@]} update file(s) in $PUBMED_DIR; running: $BIN ${args[*]}"
if "$BIN" "${args[@]}" >"$summary.tmp"; then status=0; else status=$?; fi

if [ -s "$summary.tmp" ]; then
  mv -- "$summary.tmp" "$summary"
  ln -sfn -- "${summary##*/}" "$LOG_DIR/latest.json"
  log "summary: $summary"
else
  rm -f -- "$summary.tmp"
fi
find "$LOG_DIR" -maxdepth 1 -type f -name 'nightly-*.json' -mtime "+$KEEP_DAYS" -delete 2>/dev/null || true

if [ "$status" -ne 0 ]; then
  log "bioner exited with status $status"
  exit "$status"
fi
if [ "$problems" -gt 0 ]; then
  log "$problems download problem(s) (above); the run itself finished"
  exit 1
fi
log "done"
