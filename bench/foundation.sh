#!/usr/bin/env bash
# The foundation's scenario benchmark (issue 2): respawn latency, output throughput and idle cost of
# `ufork run`, each next to a baseline measured in the same run. About 2 minutes on 2 cores.
#
#   bench/foundation.sh [--no-build] [foundation.py options: --kills N --lines N --rounds N
#                        --idle-seconds S --idle-workers N --only respawn|throughput|idle]
#
# Needs: the .NET SDK, python3 >= 3.10, root for the kernel's process events (the respawn figures
# fall back to log-line times without it). Exits 1 when a target is missed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ufork="$root/src/UFork.Host/bin/Release/net10.0/ufork"
# Output files go to tmpfs when there is one: the figures are about the pipes, not the disk.
scratch=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && scratch=/dev/shm
work=$(mktemp -d "$scratch/ufork-bench.XXXXXX")
helper=

# The helper ends what it started; this is the net under it, should the helper itself be killed:
# every pid it recorded (with its start time, so a reused pid is left alone) is SIGKILLed.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $helper ]] && kill -0 "$helper" 2>/dev/null; then
        kill -TERM "$helper" 2>/dev/null || true
        for _ in $(seq 200); do kill -0 "$helper" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$helper" 2>/dev/null || true
    fi
    if [[ -f $work/pids ]]; then
        while read -r pid start; do
            local stat
            stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
            stat=${stat##*) }
            read -ra f <<<"$stat"
            if [[ ${f[19]} == "$start" ]]; then
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$work/pids"
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build=1
if [[ ${1:-} == --no-build ]]; then build=0; shift; fi
if ((build)); then
    # No build servers: nothing of ours may linger and steal CPU from the figures.
    echo "[bench] building (dotnet build -c Release UFork.sln)"
    (cd "$root" && timeout 300 dotnet build -c Release UFork.sln -nologo -v q -clp:ErrorsOnly \
        -nodeReuse:false -p:UseSharedCompilation=false) >"$work/build.log" 2>&1 \
        || { cat "$work/build.log"; exit 2; }
fi
[[ -x $ufork ]] || { echo "no $ufork: build first" >&2; exit 2; }

python3 -u "$here/foundation.py" --ufork "$ufork" --work "$work" "$@" &
helper=$!
wait "$helper"
