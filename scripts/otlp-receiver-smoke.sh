#!/usr/bin/env bash
# Sends mlotel telemetry to a real OTLP receiver (rotel, a collector shipped on PyPI) over
# gRPC and over HTTP, and checks from the receiver's debug output that the prediction span
# and every prediction instrument arrived with the sender's service name.
#
# Usage: scripts/otlp-receiver-smoke.sh   (needs python3; installs rotel into .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

ROTEL_VERSION=0.0.1a15
VENV=${MLOTEL_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c "import rotel" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet "rotel==$ROTEL_VERSION"
fi
ROTEL=$("$VENV/bin/python" -c "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))")

free_port() { "$VENV/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
GRPC_PORT=$(free_port)
HTTP_PORT=$(free_port)
WORK=$(mktemp -d)
LOG="$WORK/rotel.out"
cleanup() { [ -n "${ROTEL_PID:-}" ] && kill "$ROTEL_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$ROTEL" start --otlp-grpc-endpoint "127.0.0.1:$GRPC_PORT" --otlp-http-endpoint "127.0.0.1:$HTTP_PORT" \
  --exporter blackhole --debug-log traces --debug-log metrics --debug-log-verbosity detailed \
  --log-file "$WORK/rotel-agent.log" >"$LOG" 2>&1 &
ROTEL_PID=$!

# Poll until both ports accept connections (deadline 20 s).
deadline=$((SECONDS + 20))
until (exec 3<>"/dev/tcp/127.0.0.1/$GRPC_PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$ROTEL_PID" 2>/dev/null; then
    echo "rotel did not start listening:"; cat "$LOG"; exit 1
  fi
  sleep 0.1
done

cargo build --quiet -p otlp-smoke
SMOKE=${CARGO_TARGET_DIR:-target}/debug/otlp-smoke

# expect_in_log SERVICE PATTERN...: waits (deadline 15 s) until every pattern appears in the
# part of rotel's output that belongs to SERVICE's resource.
expect_in_log() {
  local service=$1; shift
  local deadline=$((SECONDS + 15)) missing
  while :; do
    missing=()
    # Keep only the output after the first line that names this service.
    local section
    section=$(awk -v s="service.name: Str($service)" 'index($0, s) {on=1} on' "$LOG")
    for pattern in "$@"; do
      grep -qF -- "$pattern" <<<"$section" || missing+=("$pattern")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "FAIL: rotel never showed for $service: ${missing[*]}"; tail -n 80 "$LOG"; exit 1
    fi
    sleep 0.2
  done
}

EXPECTED=(
  "Name           : predict iris"
  "-> ml.model.name: Str(iris)"
  "-> ml.prediction.label: Str(setosa)"
  "-> error.type: Str(InvalidInput)"
  "-> Name: ml.prediction.duration"
  "-> Name: ml.predictions"
  "-> Name: ml.prediction.confidence"
  "-> Name: ml.predictions.active"
  "-> Name: ml.model.loaded"
  "-> Name: ml.feature.missing"
)

passed=0
for protocol in grpc http/protobuf; do
  case $protocol in
    grpc) endpoint="http://127.0.0.1:$GRPC_PORT"; service=smoke-grpc ;;
    *) endpoint="http://127.0.0.1:$HTTP_PORT"; service=smoke-http ;;
  esac
  OTEL_EXPORTER_OTLP_PROTOCOL=$protocol OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint \
    OTEL_SERVICE_NAME=$service OTEL_METRICS_EXPORTER=otlp RUST_LOG=warn "$SMOKE"
  expect_in_log "$service" "${EXPECTED[@]}"
  echo "ok: $protocol -> rotel received the span and the metrics of $service"
  passed=$((passed + 1))
done
echo "smoke: $passed passed, 0 failed"
