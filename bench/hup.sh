#!/usr/bin/env bash
# A rolling restart under load drops no request: `ufork serve -w 2` under `wrk -t2 -c64` for DURATION,
# with HUPS SIGHUPs sent during that one run, each once the previous rolling restart is done ("rolling
# restart done" in the arbiter's output) and the load has run steadily for GAP seconds. Reports the
# requests wrk sent, its non-2xx/3xx responses and its socket errors (connect, read, write, timeout),
# and checks that every HUP replaced both workers (two new "started pid" lines each).
# The figure is "fails 0 requests" when the last three are all 0.
# Usage: bench/hup.sh            HUPS=5 DURATION=40s GAP=3
set -euo pipefail
cd "$(dirname "$0")/.."

HUPS=${HUPS:-5}
DURATION=${DURATION:-40s}
GAP=${GAP:-3}
source bench/prepare-http.sh

log=$RESULTS/hup-serve.log
report=$RESULTS/hup-wrk.txt
server=
wrk_pid=
stop() {
  [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null || true
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT

# In a session of its own, as a daemon or a service would be, so that nothing of this script's session
# reaches it. A background job of a script leads no process group, so setsid execs ufork in place: $!
# is the arbiter's pid.
setsid "$UFORK" serve -w 2 --bind 127.0.0.1:0 --no-access-log >"$log" 2>&1 &
server=$!

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 50 ms until it succeeds; fails after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "hup.sh: no $what within $limit s; the arbiter's output is in $log" >&2
      exit 1
    fi
    kill -0 "$server" 2>/dev/null || { echo "hup.sh: ufork serve exited; see $log" >&2; exit 1; }
    sleep 0.05
  done
}
count() { grep -c -- "$1" "$log" || true; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/")" = 200 ]; }

wait_for 30 "'listening on' line" grep -q 'listening on 127\.0\.0\.1:[0-9]*' "$log"
PORT=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
wait_for 60 "two started workers" at_least 'w[0-9]*: started pid' 2
wait_for 60 "answer from the workers" answers

wrk -t2 -c64 -d"$DURATION" "http://127.0.0.1:$PORT/" >"$report" 2>&1 &
wrk_pid=$!
sleep "$GAP"
for hup in $(seq 1 "$HUPS"); do
  kill -HUP "$server"
  wait_for 60 "end of rolling restart $hup" at_least 'rolling restart done' "$hup"
  sleep "$GAP"
  kill -0 "$wrk_pid" 2>/dev/null || { echo "hup.sh: wrk ended before HUP $hup was over; raise DURATION" >&2; exit 1; }
done
wait "$wrk_pid"
wrk_pid=

started=$(count 'w[0-9]*: started pid')
if [ "$started" -ne $((2 + 2 * HUPS)) ]; then
  echo "hup.sh: expected $((2 + 2 * HUPS)) worker starts (2, then 2 per HUP), saw $started; see $log" >&2
  exit 1
fi
requests=$(awk '/requests in/ { print $1 }' "$report")
non_2xx=$(awk '/Non-2xx or 3xx responses/ { print $NF }' "$report")
errors=$(grep -o 'Socket errors:.*' "$report" || echo "Socket errors: connect 0, read 0, write 0, timeout 0")
line="$HUPS HUPs (rolling restarts of ufork serve -w 2) under wrk -t2 -c64 -d$DURATION: $requests requests, ${non_2xx:-0} non-2xx/3xx, $errors"
echo "$line"
echo "$(date -u +%FT%TZ) $line" >>"$RESULTS/hup.txt"
