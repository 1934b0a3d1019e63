#!/usr/bin/env bash
# Creates the Kafka topics of the consumer-group set-up (docs/OPERATIONS.md, "Scaling out"):
# the input topic pubmed.documents (`bioner publish` writes it, workers read it) and the output
# topic bioner.entities (workers write one entity message per document). Idempotent: it calls
# `bioner topics create`, which creates the missing topics, leaves existing ones as they are
# and reports each.
#
#   ops/create-topics.sh [--brokers HOST:PORT,...] [--partitions N] [--replication-factor R] [TOPIC...]
#
# Settings (environment; options win):
#   BIONER_KAFKA_BROKERS      bootstrap brokers (default: 127.0.0.1:9092)
#   BIONER_TOPIC_PARTITIONS   partitions per topic (default: 12): the most workers one consumer
#                             group can keep busy; partitions can be added later, not removed
#   BIONER_TOPIC_REPLICATION  replication factor (default: 1, for a single test broker; use 3
#                             in production)
#   BIONER_KAFKA_PROPERTIES   librdkafka client properties, KEY=VALUE separated by spaces, e.g.
#                             "security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-512
#                              sasl.username=bioner-admin ssl.ca.location=/etc/ssl/certs/kafka-ca.pem"
#   BIONER_KAFKA_PROPERTIES_FILE  the same, one KEY=VALUE a line (# comments; values may hold
#                             spaces): keep the password here, in a file only its owner can read
#   BIONER_KAFKA_FROM         a TOML file whose [kafka] table (brokers, properties) is used,
#                             e.g. the workers' pipeline: the password stays off the command line
#   BIONER_BIN                binary (default: target/release/bioner in the install root)
# Every property is passed to bioner as `--property KEY=VALUE`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { printf '[create-topics] error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

BIN="${BIONER_BIN:-$ROOT/target/release/bioner}"
BROKERS="${BIONER_KAFKA_BROKERS:-127.0.0.1:9092}"
BROKERS_GIVEN=0; [ -n "${BIONER_KAFKA_BROKERS:-}" ] && BROKERS_GIVEN=1
PARTITIONS="${BIONER_TOPIC_PARTITIONS:-12}"
REPLICATION="${BIONER_TOPIC_REPLICATION:-1}"   # 3 in production
topics=()

while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) [ $# -ge 2 ] || die "$1 needs a value"; BROKERS="$2"; BROKERS_GIVEN=1; shift 2 ;;
    --brokers=*) BROKERS="${1#*=}"; BROKERS_GIVEN=1; shift ;;
    --partitions) [ $# -ge 2 ] || die "$1 needs a value"; PARTITIONS="$2"; shift 2 ;;
    --partitions=*) PARTITIONS="${1#*=}"; shift ;;
    --replication-factor) [ $# -ge 2 ] || die "$1 needs a value"; REPLICATION="$2"; shift 2 ;;
    --replication-factor=*) REPLICATION="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; topics+=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) topics+=("$1"); shift ;;
  esac
done
[ ${#topics[@]} -gt 0 ] || topics=(pubmed.documents bioner.entities)

[[ "$PARTITIONS" =~ ^[1-9][0-9]*$ ]] || die "partitions must be a positive number, not \"$PARTITIONS\""
[[ "$REPLICATION" =~ ^[1-9][0-9]*$ ]] || die "replication factor must be a positive number, not \"$REPLICATION\""
[ -n "$BROKERS" ] || die "no brokers (--brokers or BIONER_KAFKA_BROKERS)"
[ -x "$BIN" ] || die "no bioner binary at $BIN (build it with \`cargo build --release\` in $ROOT, or set BIONER_BIN)"

# Client properties: from BIONER_KAFKA_PROPERTIES, then from BIONER_KAFKA_PROPERTIES_FILE.
props=()
read -r -a inline_props <<<"${BIONER_KAFKA_PROPERTIES:-}"
for p in "${inline_props[@]}"; do
  props+=("$p")
done
if [ -n "${BIONER_KAFKA_PROPERTIES_FILE:-}" ]; then
  [ -r "$BIONER_KAFKA_PROPERTIES_FILE" ] || die "cannot read BIONER_KAFKA_PROPERTIES_FILE=$BIONER_KAFKA_PROPERTIES_FILE"
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"   # leading blanks
    line="${line%"${line##*[![:space:]]}"}"   # trailing blanks
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] || props+=("$line")
  done <"$BIONER_KAFKA_PROPERTIES_FILE"
fi
prop_args=()
for p in "${props[@]}"; do
  [[ "$p" == ?*=* ]] || die "property \"$p\" is not KEY=VALUE"
  prop_args+=(--property "$p")
done

keys=("${props[@]%%=*}")   # names only: values may be secrets
printf '[create-topics] %s on %s: %s partitions, replication factor %s, client properties: %s\n' \
  "${topics[*]}" "$BROKERS" "$PARTITIONS" "$REPLICATION" "${keys[*]:-none}" >&2
conn=(--brokers "$BROKERS")
if [ -n "${BIONER_KAFKA_FROM:-}" ]; then
  [ -r "$BIONER_KAFKA_FROM" ] || die "cannot read BIONER_KAFKA_FROM=$BIONER_KAFKA_FROM"
  conn=(--kafka-from "$BIONER_KAFKA_FROM")
  # Brokers from the file unless given here.
  [ "$BROKERS_GIVEN" = 1 ] && conn+=(--brokers "$BROKERS")
fi
exec "$BIN" topics create "${conn[@]}" --partitions "$PARTITIONS" \
  --replication-factor "$REPLICATION" "${prop_args[@]}" "${topics[@]}"
