#!/usr/bin/env bash
# Runs long benchmark commands one after another, so a 2-core machine is never idle between
# runs and never runs two at once; survives being stopped and started again.
#
#   benches/queue.sh benches/long_runs.txt        # in the background: nohup ... &
#
# The queue file holds one shell command per line (blank lines and `#` comments skipped),
# typically resumable rows of benches/ner_results.sh:
#   SEEDS=2 BIN=target/release/bioner benches/ner_results.sh bc5cdr full
# A line that exits 0 is appended to QUEUE.done and never run again; one that fails is
# appended to QUEUE.failed with its exit status and the queue goes on; lines are re-read after
# every command, so the file can be edited while the queue runs. SIGTERM or SIGINT stops the
# command in progress (bioner train writes a checkpoint) and the queue; starting it again
# continues that command from its checkpoint. Output goes to stdout, one `== queue:` line per
# command.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
queue="${1:?usage: benches/queue.sh QUEUE_FILE}"
[ -f "$queue" ] || { echo "$queue: no such queue file" >&2; exit 2; }
done_file="$queue.done"
failed_file="$queue.failed"
touch "$done_file" "$failed_file"

child=0
stopping=0
on_signal() {
  stopping=1
  echo "== queue: stopping (the command in progress checkpoints; run the queue again to continue)"
  [ "$child" -gt 0 ] && kill -TERM -- "-$child" 2>/dev/null
}
trap on_signal TERM INT

next_line() {
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    grep -qxF -- "$line" "$done_file" && continue
    grep -qF -- "	$line" "$failed_file" && continue
    printf '%s\n' "$line"
    return 0
  done < "$queue"
  return 1
}

while [ "$stopping" = 0 ] && line="$(next_line)"; do
  echo "== queue: $(date -u +%FT%TZ) start: $line"
  # Its own process group, so a stop reaches every process of the command.
  setsid bash -c "$line" &
  child=$!
  wait "$child"
  status=$?
  # `wait` returns early when a trapped signal arrives: wait for the command to finish.
  while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
  child=0
  if [ "$stopping" = 1 ]; then
    echo "== queue: $(date -u +%FT%TZ) stopped: $line"
    exit 0
  fi
  if [ "$status" = 0 ]; then
    printf '%s\n' "$line" >> "$done_file"
    echo "== queue: $(date -u +%FT%TZ) done: $line"
  else
    printf '%s\t%s\n' "$status" "$line" >> "$failed_file"
    echo "== queue: $(date -u +%FT%TZ) failed ($status): $line"
  fi
done
echo "== queue: $(date -u +%FT%TZ) nothing left in $queue"
