#!/usr/bin/env bash
# HTTP load test of mlotel_actix::RequestTelemetry (docs/performance.md, "HTTP middleware
# under load (wrk)"). Builds benches/http-load-target, then drives `GET /hello/{name}` with
# wrk in three modes, interleaved round by round so machine noise hits each mode alike:
#   bare        plain actix-web
#   mlotel      mlotel::Telemetry + mlotel_actix::RequestTelemetry
#   otel-actix  opentelemetry-instrumentation-actix-web RequestTracing + RequestMetrics
# and prints a markdown table: requests/s, p50, p99, the server's CPU time per request,
# RSS before/after, ratio to bare, the 1-minute load average (other work on the machine).
#
# Usage: scripts/http-load.sh [options]
#   --duration S      seconds of load per mode and round (env DURATION, default 20)
#   --rounds N        rounds of bare, mlotel, otel-actix (env ROUNDS, default 2)
#   --connections C   wrk connections (env CONNECTIONS, default 32)
#   --threads T       wrk threads (env WRK_THREADS, default 1)
#   --workers W       actix-web workers (env WORKERS, default 1)
#   --profile P       cargo profile of the target: release (default) or dev (env PROFILE)
#   --memory          instead of the comparison: mlotel alone at saturation for
#                     MEMORY_DURATION s (default 120), RSS every MEMORY_INTERVAL s (default 15)
#   --no-memory       the comparison only (the default; accepted for explicitness)
#   --binary PATH     run this http-load-target instead of building one (env
#                     HTTP_LOAD_BINARY), e.g. a copy built before a change, to compare
#                     two builds
#
# Exits non-zero if any mode serves no request, answers anything but 2xx, or (mlotel,
# otel-actix) exports no span. Sends traffic to 127.0.0.1 only.
#
# On a 2-core machine wrk and the server share the cores: 1 worker + wrk -t1 gives each a
# core (nothing is pinned). More workers than free cores measure contention, not middleware.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
WORKERS=${WORKERS:-1}
PROFILE=${PROFILE:-release}
MEMORY_DURATION=${MEMORY_DURATION:-120}
MEMORY_INTERVAL=${MEMORY_INTERVAL:-15}
MEMORY=0
MODES=(bare mlotel otel-actix)
BINARY=${HTTP_LOAD_BINARY:-}

die() { echo "http-load: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
    --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
    --connections) CONNECTIONS=${2:?--connections needs a value}; shift 2 ;;
    --threads) WRK_THREADS=${2:?--threads needs a value}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a value}; shift 2 ;;
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --memory) MEMORY=1; shift ;;
    --no-memory) MEMORY=0; shift ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$DURATION" "$ROUNDS" "$CONNECTIONS" "$WRK_THREADS" "$WORKERS" "$MEMORY_DURATION" "$MEMORY_INTERVAL"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "expected a positive integer, got '$value'"
done
case "$PROFILE" in
  release) PROFILE_DIR=release ;;
  dev) PROFILE_DIR=debug ;;
  *) die "--profile is release or dev, not '$PROFILE'" ;;
esac

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing wrk (apt-get)" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null \
      || die "apt-get install wrk failed"
  else
    die "wrk is not installed; install the Debian package: sudo apt-get install wrk"
  fi
fi
command -v curl >/dev/null 2>&1 || die "curl is needed for the readiness probe (apt-get install curl)"

if [ -n "${BINARY:-}" ]; then
  echo "using $BINARY (not building)" >&2
else
  TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  BINARY="$TARGET_DIR/$PROFILE_DIR/http-load-target"
  echo "building http-load-target (--profile $PROFILE, target dir $TARGET_DIR)" >&2
  build_start=$(date +%s)
  cargo build --quiet --profile "$PROFILE" -p http-load-target
  echo "built in $(( $(date +%s) - build_start )) s" >&2
fi
[ -x "$BINARY" ] || die "no binary at $BINARY"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # user + system CPU time of PID so far, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

rss_mb() { # RSS of PID in MB, one decimal
  local kb
  kb=$(ps -o rss= -p "$1" | tr -d ' ')
  [ -n "$kb" ] || die "process $1 is gone"
  awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }'
}

# Starts the target in mode $1; sets SERVER_PID, PORT and SERVER_ERR (its stderr); returns
# once /hello/x answers 200. Each start gets new output files: the server's shell truncates
# its redirections after the fork, so a reused file could still show the last run's port.
RUN=0
start_server() {
  local mode=$1 out err deadline line
  RUN=$(( RUN + 1 ))
  out="$WORK/$RUN-$mode.out"
  err="$WORK/$RUN-$mode.err"
  : >"$out"
  : >"$err"
  SERVER_ERR=$err
  # The exporters each mode uses are set in code; keep the caller's OTEL_* out of it.
  env $(env | sed -n 's/^\(OTEL_[A-Z_]*\)=.*/-u \1/p') RUST_LOG=info \
    "$BINARY" --mode "$mode" --workers "$WORKERS" --port 0 >"$out" 2>"$err" &
  SERVER_PID=$!
  deadline=$(( $(date +%s) + 30 ))
  PORT=
  while [ -z "$PORT" ]; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "$mode: server exited: $(cat "$err")"
    [ "$(date +%s)" -lt "$deadline" ] || die "$mode: no 'listening on' line within 30 s"
    line=$(head -n 1 "$out" 2>/dev/null || true)
    case "$line" in
      "listening on 127.0.0.1:"*[0-9]) PORT=${line##*:} ;;
      *) sleep 0.05 ;;
    esac
  done
  local code
  while :; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/hello/x" 2>"$WORK/curl.err" || true)
    [ "$code" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$mode: server exited: $(cat "$err")"
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "$mode: /hello/x did not answer 200 within 30 s (last: HTTP $code $(cat "$WORK/curl.err")); server stdout: $(head -c 2000 "$out"); stderr: $(head -c 2000 "$err"); $(ss -tanp 2>/dev/null | grep -c ":$PORT ") sockets on port $PORT"
    fi
    sleep 0.05
  done
}

# Stops the server (SIGTERM, graceful; SIGKILL after 15 s); sets SPANS from its stderr.
stop_server() {
  local mode=$1 deadline
  kill -TERM "$SERVER_PID"
  deadline=$(( $(date +%s) + 15 ))
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "http-load: $mode: no exit 15 s after SIGTERM; killing it" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    sleep 0.05
  done
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  SPANS=$(sed -n 's/^spans exported: \([0-9]*\)$/\1/p' "$SERVER_ERR")
  SPANS=${SPANS:-0}
}

to_us() { # wrk latency ("812.00us", "1.20ms", "2.01s") to microseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0f", v }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0f", v * 1000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000000 }
    else { printf "NaN" } }'
}

# Runs wrk for $2 s against the server; parses into RPS, REQUESTS, P50_US, P99_US, NON2XX, ERRORS.
run_wrk() {
  local mode=$1 seconds=$2 out="$WORK/$RUN-$1.wrk"
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${seconds}s" --latency \
    "http://127.0.0.1:$PORT/hello/x" >"$out" 2>&1 || die "$mode: wrk failed: $(cat "$out")"
  RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  REQUESTS=$(awk '/requests in/ { print $1 }' "$out")
  P50_US=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
  P99_US=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
  NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  NON2XX=${NON2XX:-0}
  ERRORS=$(sed -n 's/^ *Socket errors: //p' "$out")
  ERRORS=${ERRORS:-none}
  [ -n "$RPS" ] && [ -n "$REQUESTS" ] || die "$mode: cannot parse wrk output: $(cat "$out")"
}

check_run() { # fails on no requests, non-2xx, or no span exported where spans are on
  local mode=$1
  [ "$REQUESTS" -gt 0 ] || die "$mode: served 0 requests"
  [ "$NON2XX" -eq 0 ] || die "$mode: $NON2XX non-2xx responses"
  if [ "$mode" != bare ] && [ "$SPANS" -eq 0 ]; then
    die "$mode: no span reached the exporter"
  fi
  if [ "$mode" = bare ] && [ "$SPANS" -ne 0 ]; then
    die "bare: $SPANS spans exported (expected none)"
  fi
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(rustc --version); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)" >&2
echo "wrk -t$WRK_THREADS -c$CONNECTIONS, actix-web workers: $WORKERS, profile: $PROFILE" >&2

if [ "$MEMORY" = 1 ]; then
  echo "memory: mlotel at saturation for $MEMORY_DURATION s, RSS every $MEMORY_INTERVAL s" >&2
  start_server mlotel
  echo
  echo "| t (s) | RSS (MB) |"
  echo "|---|---|"
  echo "| 0 (idle) | $(rss_mb "$SERVER_PID") |"
  out="$WORK/memory.wrk"
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${MEMORY_DURATION}s" --latency \
    "http://127.0.0.1:$PORT/hello/x" >"$out" 2>&1 &
  wrk_pid=$!
  started=$(date +%s)
  elapsed=0
  while [ "$elapsed" -lt "$MEMORY_DURATION" ]; do
    next=$(( elapsed + MEMORY_INTERVAL ))
    [ "$next" -le "$MEMORY_DURATION" ] || break
    # Sampling interval, not a readiness wait.
    while [ $(( $(date +%s) - started )) -lt "$next" ]; do sleep 0.2; done
    elapsed=$next
    echo "| $elapsed | $(rss_mb "$SERVER_PID") |"
  done
  wait "$wrk_pid" || die "memory: wrk failed: $(cat "$out")"
  echo "| after load | $(rss_mb "$SERVER_PID") |"
  RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  REQUESTS=$(awk '/requests in/ { print $1 }' "$out")
  NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out"); NON2XX=${NON2XX:-0}
  stop_server mlotel
  echo
  echo "$REQUESTS requests, $RPS requests/s, $NON2XX non-2xx, $SPANS spans exported"
  check_run mlotel
  exit 0
fi

declare -A SUM_RPS=() SUM_P50=() SUM_P99=() SUM_CPU=() MAX_RSS=()
ROWS=()
for round in $(seq 1 "$ROUNDS"); do
  bare_rps=
  for mode in "${MODES[@]}"; do
    echo "round $round/$ROUNDS: $mode (${DURATION} s)" >&2
    start_server "$mode"
    rss_before=$(rss_mb "$SERVER_PID")
    cpu_before=$(cpu_ticks "$SERVER_PID")
    run_wrk "$mode" "$DURATION"
    cpu_after=$(cpu_ticks "$SERVER_PID")
    rss_after=$(rss_mb "$SERVER_PID")
    load=$(cut -d' ' -f1 /proc/loadavg)
    stop_server "$mode"
    check_run "$mode"
    [ "$mode" = bare ] && bare_rps=$RPS
    ratio=$(awk -v a="$RPS" -v b="$bare_rps" 'BEGIN { printf "%.3f", a / b }')
    cpu_us=$(awk -v t=$(( cpu_after - cpu_before )) -v hz="$CLK_TCK" -v n="$REQUESTS" \
      'BEGIN { printf "%.1f", t * 1000000 / hz / n }')
    ROWS+=("| $mode | $round | $RPS | $P50_US | $P99_US | $cpu_us | $rss_before | $rss_after | $ratio | $SPANS | $load | $ERRORS |")
    SUM_CPU[$mode]=$(awk -v a="${SUM_CPU[$mode]:-0}" -v b="$cpu_us" 'BEGIN { print a + b }')
    SUM_RPS[$mode]=$(( ${SUM_RPS[$mode]:-0} + RPS ))
    SUM_P50[$mode]=$(( ${SUM_P50[$mode]:-0} + P50_US ))
    SUM_P99[$mode]=$(( ${SUM_P99[$mode]:-0} + P99_US ))
    MAX_RSS[$mode]=$(awk -v a="${MAX_RSS[$mode]:-0}" -v b="$rss_after" 'BEGIN { print (b > a ? b : a) }')
  done
done

echo
echo "| mode | round | requests/s | p50 (µs) | p99 (µs) | server CPU per request (µs) | RSS before (MB) | RSS after (MB) | ratio vs bare | spans exported | load average | socket errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Mean of $ROUNDS round(s):"
echo
echo "| mode | requests/s | p50 (µs) | p99 (µs) | server CPU per request (µs) | max RSS after (MB) | ratio vs bare |"
echo "|---|---|---|---|---|---|---|"
for mode in "${MODES[@]}"; do
  awk -v m="$mode" -v r="${SUM_RPS[$mode]}" -v p50="${SUM_P50[$mode]}" -v p99="${SUM_P99[$mode]}" \
      -v cpu="${SUM_CPU[$mode]}" -v rss="${MAX_RSS[$mode]}" -v bare="${SUM_RPS[bare]}" -v n="$ROUNDS" \
      'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %.1f | %s | %.3f |\n", m, r / n, p50 / n, p99 / n, cpu / n, rss, r / bare }'
done
awk -v m="${SUM_RPS[mlotel]}" -v o="${SUM_RPS[otel-actix]}" \
  'BEGIN { printf "\nmlotel / otel-actix throughput: %.3f\n", m / o }'
