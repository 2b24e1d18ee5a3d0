#!/usr/bin/env bash
# pogreb serve against redis-server over redis-benchmark, alternating, on this machine: prints the
# Markdown table of docs/BENCHMARKS.md ("pogreb serve against redis-server").
#
#   scripts/bench-server.sh                 # N = 1 000 000 requests a run, 3 rounds
#   N=200000 ROUNDS=1 scripts/bench-server.sh
#
# Needs redis-server and redis-benchmark (apt-get install redis-server redis-tools). Each round runs,
# for each server in turn (the order swaps every round):
#   redis-benchmark -t set,get -n N -r 1000000 -d 128 -P 16          (50 clients, pipelined)
#   redis-benchmark -t set,get -n N -r 1000000 -d 128 -P 1 -c 50     (50 clients, one request each)
# pogreb serve runs with --sync interval (a sync every second), redis-server with appendonly yes,
# appendfsync everysec and no RDB snapshots: the same durability. Both start on empty directories
# under $TMPDIR (or /tmp), removed afterwards. The figures are medians over the rounds of the
# requests per second redis-benchmark reports; the load average is read before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
POGREB_PORT=${POGREB_PORT:-6392}
REDIS_PORT=${REDIS_PORT:-6391}
for tool in redis-server redis-benchmark; do
    command -v "$tool" > /dev/null || { echo "bench-server: $tool is missing: apt-get install redis-server redis-tools" >&2; exit 2; }
done
swift build -c release --product pogreb > /dev/null
BIN=$(swift build -c release --show-bin-path)/pogreb

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pogreb-bench-server.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
    --appendfsync everysec --save "" --daemonize no --logfile "$WORK/redis.log" &
PIDS+=($!)
"$BIN" serve "$WORK/pogreb" --port "$POGREB_PORT" --sync interval > "$WORK/pogreb.log" 2>&1 &
PIDS+=($!)
for port in "$REDIS_PORT" "$POGREB_PORT"; do
    for _ in $(seq 100); do redis-cli -p "$port" PING > /dev/null 2>&1 && break; sleep 0.1; done
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/results"
: > "$RESULTS"
run() {  # server port mode args...
    local server=$1 port=$2 mode=$3
    shift 3
    redis-benchmark -p "$port" -t set,get -n "$N" -r 1000000 -d 128 "$@" --csv 2> /dev/null |
        awk -F'","' -v s="$server" -v m="$mode" 'NR > 1 { gsub(/"/, "", $1); print s "|" m "|" $1 "|" $2 }' >> "$RESULTS"
}
for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then order="pogreb redis"; else order="redis pogreb"; fi
    for server in $order; do
        port=$POGREB_PORT
        [ "$server" = redis ] && port=$REDIS_PORT
        run "$server" "$port" "-P 16" -P 16
        run "$server" "$port" "-P 1 -c 50" -P 1 -c 50
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

median() {  # server mode test
    awk -F'|' -v s="$1" -v m="$2" -v t="$3" '$1 == s && $2 == m && $3 == t { print $4 }' "$RESULTS" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "redis-benchmark -t set,get -n $N -r 1000000 -d 128, $ROUNDS rounds alternating, medians (requests/s)"
echo "machine: $(nproc) cores, $(uname -r); load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
echo
echo "| redis-benchmark | pogreb serve --sync interval | redis-server (AOF, everysec) | pogreb ÷ redis | goal |"
echo "| --- | --- | --- | --- | --- |"
for mode in "-P 16" "-P 1 -c 50"; do
    for test in SET GET; do
        p=$(median pogreb "$mode" "$test")
        r=$(median redis "$mode" "$test")
        ratio=$(awk -v p="$p" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", p / r; else print "n/a" }')
        goal="—"
        if [ "$mode" = "-P 16" ]; then
            want=1.0
            [ "$test" = SET ] && want=0.8
            goal=$(awk -v x="$ratio" -v w="$want" 'BEGIN { if (x + 0 >= w) printf "≥ %.1f: met", w; else printf "≥ %.1f: missed", w }')
        fi
        printf '| %s %s | %.0f | %.0f | %s × | %s |\n' "$test" "$mode" "$p" "$r" "$ratio" "$goal"
    done
done
