#!/usr/bin/env bash
# Stop a broker started by kafka-up.sh.
# Usage: kafka-down.sh [-p PORT] [-d STATE_DIR] [-k]
#   -k  SIGKILL at once (simulated crash; sqlite data survives). Default: SIGTERM, then SIGKILL after 10 s.
#       tansu's SIGTERM shutdown takes ~1.1 s when idle but ~6-7 s with clients connected, and while it
#       runs, producers get "Unknown broker error" for every message sent in that window.
set -uo pipefail
PORT=19092; STATE=""; SIG=TERM
while getopts "p:d:k" o; do
  case "$o" in p) PORT=$OPTARG ;; d) STATE=$OPTARG ;; k) SIG=KILL ;;
    *) echo "usage: $0 [-p PORT] [-d STATE_DIR] [-k]" >&2; exit 2 ;; esac
done
STATE=${STATE:-/tmp/casewatch-kafka-$PORT}
PIDFILE=$STATE/tansu.pid
alive() { ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }
[ -f "$PIDFILE" ] || { echo "kafka-down: no pid file $PIDFILE" >&2; exit 0; }
PID=$(cat "$PIDFILE")
if alive "$PID"; then
  kill -"$SIG" "$PID" 2>/dev/null
  for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.1; done
  if alive "$PID"; then kill -KILL "$PID"; for _ in $(seq 1 50); do alive "$PID" || break; sleep 0.1; done; fi
fi
rm -f "$PIDFILE"
