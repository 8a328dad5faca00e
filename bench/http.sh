#!/usr/bin/env bash
# Hello-world HTTP on loopback, in one run:
#   1. wrk -t2 -c64 against `ufork serve -w 2` and against one Kestrel process serving the same app
#      with the same settings (`ufork serve --single`: same binary, sockets, Kestrel options), in
#      rounds of one run each; the medians of requests/s and p99, and of the rounds' ratios;
#   2. the time from starting `ufork serve -w 4` until all four workers have answered.
# The access log is off in both servers (--no-access-log); ACCESS_LOG=on measures both with it.
#
# The one-process baseline is started as ufork is, in this script's session, where wrk runs too: ufork's
# workers stay in their arbiter's session (a process group each), so with autogroup scheduling
# (kernel.sched_autogroup_enabled=1, the default of most distributions) both servers share one
# scheduling group with wrk. A one-process server in a session of its own (setsid) gets a group of its
# own, against wrk's; that figure is printed too, for reference, but not used in the ratio.
# Usage: bench/http.sh            ROUNDS=5 DURATION=10s WARMUP=5s ACCESS_LOG=off
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-5s}
ACCESS_LOG=${ACCESS_LOG:-off}
source bench/prepare-http.sh
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

server_pids=()
stop_servers() {
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  server_pids=()
}
trap stop_servers EXIT

# start_server NAME [setsid] ARGS...: runs ufork ARGS with output in $RESULTS/NAME.log; sets PORT from
# its "listening on" line (every server binds port 0, so the kernel picks a free port). A background
# job of a script leads no process group, so setsid execs ufork in place: $! stays ufork's pid.
start_server() {
  local log=$RESULTS/$1.log launcher=()
  shift
  if [ "$1" = setsid ]; then
    launcher=(setsid)
    shift
  fi
  "${launcher[@]}" "$UFORK" "$@" >"$log" 2>&1 &
  server_pids+=("$!")
  PORT=
  for _ in $(seq 1 300); do
    PORT=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2 || true)
    [ -n "$PORT" ] && return
    sleep 0.02
  done
  echo "no 'listening on' line in $log within 6 s" >&2
  exit 1
}

# until_workers_answer PORT N SECONDS: new connections, eight at a time, until N distinct pids answered.
until_workers_answer() {
  local port=$1 wanted=$2 deadline=$((SECONDS + $3)) pids="" urls
  urls=$(for _ in 1 2 3 4 5 6 7 8; do printf 'http://127.0.0.1:%s/ ' "$port"; done)
  while [ "$(wc -w <<<"$pids")" -lt "$wanted" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "only $(wc -w <<<"$pids") of $wanted workers answered within $3 s" >&2
      exit 1
    fi
    # shellcheck disable=SC2086
    # No answer yet (curl timed out, grep found nothing) is not an error: ask again.
    pids=$( (echo "$pids"; curl -s --max-time 2 -Z $urls 2>/dev/null | grep -o 'pid [0-9]*' | cut -d' ' -f2 || true) | sort -un | xargs)
  done
}

# measure PORT: one wrk run; prints "REQUESTS_PER_SECOND P99_MS".
measure() {
  wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$1/" | awk '
    /Requests\/sec/ { rps = $2 }
    $1 == "99%" {
      value = $2
      if (value ~ /us$/) ms = substr(value, 1, length(value) - 2) / 1000
      else if (value ~ /ms$/) ms = substr(value, 1, length(value) - 2)
      else ms = substr(value, 1, length(value) - 1) * 1000
    }
    END { printf "%.0f %.2f\n", rps, ms }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# median_of SERVER COLUMN: the median over the rounds of that server's requests/s (1) or p99 (2).
median_of() {
  for round in $(seq 1 "$ROUNDS"); do
    cut -d' ' -f"$2" <<<"${results[$1.$round]}"
  done | median
}

log_flag=()
[ "$ACCESS_LOG" = on ] || log_flag=(--no-access-log)

declare -A ports results
start_server ufork-w2 serve -w 2 --bind 127.0.0.1:0 "${log_flag[@]}"
ports[ufork]=$PORT
until_workers_answer "$PORT" 2 60
start_server single setsid serve --single --bind 127.0.0.1:0 "${log_flag[@]}"
ports[single]=$PORT
until_workers_answer "$PORT" 1 60
start_server single-same-session serve --single --bind 127.0.0.1:0 "${log_flag[@]}"
ports[same-session]=$PORT
until_workers_answer "$PORT" 1 60

for server in ufork single same-session; do
  wrk -t2 -c64 -d"$WARMUP" "http://127.0.0.1:${ports[$server]}/" >/dev/null
done
# Neighbouring runs see the same machine, so each round yields a ratio, and the order flips every
# round so that a drift in the machine's speed favours neither server.
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  order=(ufork single same-session)
  [ $((round % 2)) -eq 1 ] || order=(same-session single ufork)
  for server in "${order[@]}"; do
    results[$server.$round]=$(measure "${ports[$server]}")
  done
  ratios+=("$(awk -v a="${results[ufork.$round]% *}" -v b="${results[same-session.$round]% *}" 'BEGIN { printf "%.3f", a / b }')")
  echo "round $round (req/s p99-ms): ufork ${results[ufork.$round]}   one process ${results[same-session.$round]}   in a session of its own ${results[single.$round]}   ratio ${ratios[-1]}"
done
stop_servers

started=$(date +%s%N)
start_server ufork-w4 serve -w 4 --bind 127.0.0.1:0 --no-access-log
until_workers_answer "$PORT" 4 60
startup_ms=$(( ($(date +%s%N) - started) / 1000000 ))
stop_servers

{
  echo "hello world, wrk -t2 -c64 -d$DURATION (after a $WARMUP warm-up), medians of $ROUNDS rounds, access log $ACCESS_LOG"
  printf '  %-28s %8s req/s   p99 %7s ms\n' "ufork serve -w 2" "$(median_of ufork 1)" "$(median_of ufork 2)"
  printf '  %-28s %8s req/s   p99 %7s ms\n' "Kestrel, one process" "$(median_of same-session 1)" "$(median_of same-session 2)"
  printf '  %-28s %8s   (median of the ratios of the rounds)\n' "ratio (ufork / one process)" "$(printf '%s\n' "${ratios[@]}" | median)"
  printf '  %-28s %8s req/s   p99 %7s ms   (reference only, see the top of this script)\n' \
    "one process, own session" "$(median_of single 1)" "$(median_of single 2)"
  echo "ufork serve -w 4: all four workers answered ${startup_ms} ms after start"
  echo "machine: $(nproc) cores; load average $load_at_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
} | tee "$RESULTS/http.txt"
