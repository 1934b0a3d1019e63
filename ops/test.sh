#!/usr/bin/env bash
# The test command (README, .ci/run): set-up (idempotent), then the whole test suite against a
# real Kafka-protocol broker (tansu) on a free loopback port. The broker is stopped on exit,
# whether the tests pass or fail. Extra arguments go to `cargo test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

ops/setup.sh

port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="tcp://127.0.0.1:$port"
mkdir -p target
.tools/bin/tansu broker --listener-url "$url" --advertised-listener-url "$url" \
  --storage-engine memory://tansu/ >target/tansu-test.log 2>&1 &
broker_pid=$!
stop_broker() { kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; }
trap stop_broker EXIT

for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$broker_pid" 2>/dev/null || { cat target/tansu-test.log >&2; echo "[test] tansu exited" >&2; exit 1; }
  sleep 0.1
done
echo "[test] tansu broker on 127.0.0.1:$port (log: target/tansu-test.log)" >&2

BIONER_TEST_BROKER="127.0.0.1:$port" cargo test "$@"
