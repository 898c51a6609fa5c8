#!/usr/bin/env bash
# Start a tansu (Kafka-compatible) broker on 127.0.0.1 in the background and create topics.
# Usage: kafka-up.sh [-p PORT] [-s SQLITE_FILE] [-n PARTITIONS] [-d STATE_DIR] [TOPIC...]
#   -p PORT         listen port (default 19092)
#   -s SQLITE_FILE  persist to this sqlite file (default: in-memory storage)
#   -n PARTITIONS   partitions for each TOPIC (default 4); TOPIC may also be NAME:PARTS
#   -d STATE_DIR    where pid file and log go (default /tmp/casewatch-kafka-PORT)
# Env: TANSU = path of tansu binary (default: `tansu` on PATH, else ~/.cache/casewatch-tools/bin/tansu,
#      installed there with `cargo install` on first use, about 10 minutes; later runs reuse it).
#      KAFKA_UP_INSTALL_ONLY=1: install tansu if missing, then exit (for CI's setup step).
#      KAFKA_UP_NO_INSTALL=1: fail at once instead of installing (the tests set it).
# Prints the bootstrap address (127.0.0.1:PORT) on success.
#
# Tansu 0.6 notes: create topics explicitly; avoid snappy; no transactions. With memory storage, a
# fetch that starts in the middle of a stored producer batch returns wrong data, so producers
# talking to this broker set `batch.num.messages=1` (see scripts/casewatch-local.toml).
set -euo pipefail
PORT=19092; SQLITE=""; PARTS=4; STATE=""
while getopts "p:s:n:d:" o; do
  case "$o" in
    p) PORT=$OPTARG ;; s) SQLITE=$OPTARG ;; n) PARTS=$OPTARG ;; d) STATE=$OPTARG ;;
    *) echo "usage: $0 [-p PORT] [-s SQLITE_FILE] [-n PARTITIONS] [-d STATE_DIR] [TOPIC[:PARTS]...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
STATE=${STATE:-/tmp/casewatch-kafka-$PORT}
TOOLS=$HOME/.cache/casewatch-tools
TANSU=${TANSU:-$(command -v tansu || echo "$TOOLS/bin/tansu")}
if [ ! -x "$TANSU" ] && [ "${KAFKA_UP_NO_INSTALL:-0}" = 1 ]; then
  echo "kafka-up: tansu not found ($TANSU); install it once with: KAFKA_UP_INSTALL_ONLY=1 scripts/kafka-up.sh" >&2; exit 1
elif [ ! -x "$TANSU" ]; then
  echo "kafka-up: tansu not found; installing tansu 0.6.0 into $TOOLS (about 10 minutes, once)" >&2
  cargo install tansu --version 0.6.0 --locked --features dynostore,libsql --root "$TOOLS" >&2 \
    || { echo "kafka-up: installing tansu failed" >&2; exit 1; }
  TANSU=$TOOLS/bin/tansu
fi
[ "${KAFKA_UP_INSTALL_ONLY:-0}" = 1 ] && { echo "kafka-up: tansu at $TANSU" >&2; exit 0; }
mkdir -p "$STATE"
PIDFILE=$STATE/tansu.pid; LOG=$STATE/tansu.log
URL=tcp://127.0.0.1:$PORT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -n "$1" ] && ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }   # running and not a zombie

if [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"; then
  echo "kafka-up: broker already running (pid $(cat "$PIDFILE"))" >&2
elif port_open "$PORT"; then
  echo "kafka-up: port $PORT already in use by another process" >&2; exit 1
else
  if [ -n "$SQLITE" ]; then
    mkdir -p "$(dirname "$SQLITE")"
    # tansu treats sqlite://X as a path relative to its cwd; sqlite:///abs -> cwd/abs.
    # For an absolute path use FOUR slashes: sqlite:////abs/file.db
    SQLITE_ABS=$(cd "$(dirname "$SQLITE")" && pwd)/$(basename "$SQLITE")
    STORAGE="sqlite:///$SQLITE_ABS"
  else
    STORAGE="memory://tansu/"
  fi
  # setsid: own session so the broker survives the calling shell and is not hit by its signals
  setsid "$TANSU" broker --listener-url "$URL" --advertised-listener-url "$URL" \
      --storage-engine "$STORAGE" </dev/null >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 300); do            # bounded wait: 300 x 0.1 s = 30 s
    if port_open "$PORT"; then break; fi
    if ! alive "$(cat "$PIDFILE")"; then
      echo "kafka-up: tansu exited during start; log:" >&2; cat "$LOG" >&2; rm -f "$PIDFILE"; exit 1
    fi
    sleep 0.1
  done
  port_open "$PORT" || { echo "kafka-up: port $PORT not open after 30 s; log:" >&2; cat "$LOG" >&2; exit 1; }
fi

for t in "$@"; do
  name=${t%%:*}; n=$PARTS; [ "$name" != "$t" ] && n=${t#*:}
  # `tansu topic create` talks to the running broker (hangs/retries if none); exits 1 if the topic exists
  if out=$(timeout 20 "$TANSU" topic create --broker "$URL" --partitions "$n" "$name" 2>&1); then :
  elif echo "$out" | grep -q "already exists"; then :
  else echo "kafka-up: creating topic $name failed: $out" >&2; exit 1; fi
done
echo "127.0.0.1:$PORT"
