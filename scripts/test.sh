#!/usr/bin/env bash
# The one test command (README, CI): formatting, lints, every test, the benches in quick
# mode, and the real-receiver smoke test. Installs what it needs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# Each step's start is stamped with the minutes and seconds since the first, so the cost of
# a run on a fresh machine can be read off its log.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
stack_pid=
finish() {
  local status=$?
  if [ -n "$stack_pid" ]; then pkill -P "$stack_pid" 2>/dev/null || true; kill "$stack_pid" 2>/dev/null || true; fi
  printf '\n==> [%dm%02ds] done (exit %s)\n' $((SECONDS / 60)) $((SECONDS % 60)) "$status"
}
trap finish EXIT

step "toolchain components"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step "cargo fetch --locked (a fresh machine has no crates; the deploy checks read cargo metadata)"
cargo fetch --locked

step "cargo fmt --check"
cargo fmt --all -- --check

step "the stack's programs, built in the background while the Rust steps run (scripts/stack-binaries.sh)"
# jaeger, otelcol, prometheus, promtool, alertmanager, amtool, victoria-logs at deploy/versions.env's
# versions: reused from their cache at once, or built from the Go module proxy (about 17
# minutes on 2 busy cores from empty caches, under `nice`, so the Rust steps go first;
# docs/operations.md). The deploy checks below wait for it.
stack_log=$(mktemp)
scripts/stack-binaries.sh >/dev/null 2>"$stack_log" &
stack_pid=$!

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "mlotel builds with each feature alone (features are additive)"
for features in "" prometheus otlp-grpc otlp-http; do
  cargo clippy -p mlotel --no-default-features --features "$features" -- -D warnings
done

step "drift fixtures: scipy's values for the drift statistics (scripts/drift_fixtures.py)"
# Regenerates tests/fixtures/drift/stats.json (fixed seeds, pinned numpy/scipy: deterministic);
# crates/mlotel/tests/drift_stats.rs checks mlotel against it in the cargo test step.
VENV=${MLOTEL_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q -r scripts/requirements-drift.txt
"$VENV/bin/python" scripts/drift_fixtures.py
if command -v git >/dev/null && ! git diff --quiet -- tests/fixtures/drift/stats.json 2>/dev/null; then
  echo "warning: the regenerated tests/fixtures/drift/stats.json differs from the committed one"
fi

step "ground-truth fixtures: scikit-learn's values for the outcome rules (scripts/ground_truth_fixtures.py)"
# Regenerates deploy/prometheus/tests/ground_truth_test.yml (fixed seeds, pinned versions:
# deterministic); scripts/check-deploy.sh runs it with promtool.
"$VENV/bin/pip" install -q -r scripts/requirements-ground-truth.txt
"$VENV/bin/python" scripts/ground_truth_fixtures.py
if command -v git >/dev/null && ! git diff --quiet -- deploy/prometheus/tests/ground_truth_test.yml 2>/dev/null; then
  echo "error: the regenerated deploy/prometheus/tests/ground_truth_test.yml differs from the committed one" >&2
  exit 1
fi

step "headless Chromium for the live page's test (examples/predictor/tests/dashboard.rs)"
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  else
    echo "error: chromium is missing; install it (Debian: sudo apt-get install --no-install-recommends chromium)" >&2
    exit 1
  fi
fi

step "the openai Python client for the chat endpoint's test (examples/predictor/tests/chat.rs)"
"$VENV/bin/pip" install -q -r scripts/requirements-openai.txt
export MLOTEL_OPENAI_PYTHON="$PWD/$VENV/bin/python"
case "$VENV" in /*) MLOTEL_OPENAI_PYTHON="$VENV/bin/python" ;; esac

step "the prometheus_client OpenMetrics parser for the stack's exposition check (scripts/stack_e2e.py)"
"$VENV/bin/pip" install -q -r scripts/requirements-openmetrics.txt
export MLOTEL_OPENMETRICS_PYTHON="$MLOTEL_OPENAI_PYTHON"

step "cargo test"
cargo test --workspace

step "the stack's configs checked by its own programs (scripts/check-deploy.sh)"
if ! wait "$stack_pid"; then
  stack_pid=
  cat "$stack_log" >&2
  echo "error: scripts/stack-binaries.sh failed (its log is above)" >&2
  exit 1
fi
stack_pid=
# With the programs built above: otelcol/jaeger validate,
# promtool check config/rules, promtool test rules, amtool check-config and routes, the
# dashboards' lint and the compose checks.
scripts/check-deploy.sh

step "fuzz targets, ${FUZZ_SECONDS:-15} s each (scripts/fuzz.sh, docs/fuzzing.md)"
# libFuzzer on the request-body parser, the reference loaders, trace-context extraction and
# the macro's argument parser; fails on a crash. Installs cargo-fuzz when missing.
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

step "HTTP edge reliability suite: hostile requests, long-path flood, slow bodies (examples/predictor/tests/reliability.rs)"
# The real predictor binary: each hostile request gets a 4xx JSON answer in a stated time,
# normal traffic keeps >= 80 % of its throughput next to a long-path flood, waves of slow
# bodies leave memory bounded. About 30 s; ignored by the cargo test step above.
cargo test -p predictor --test reliability -- --ignored

step "benches compile and run once (criterion's test mode, debug build)"
# The unoptimised build shares every dependency with the test step; the measurements are
# release builds run by hand (docs/performance.md).
cargo test -p mlotel-benches --benches

step "real OTLP receiver (rotel) over gRPC and HTTP"
scripts/otlp-receiver-smoke.sh

step "HTTP load script (smoke)"
# 2 s of wrk per mode (bare, mlotel, otel-actix), one round: fails if a mode serves no
# request, answers a non-2xx or exports no span. Not a measurement (see docs/performance.md).
# The debug build: a smoke test needs no optimised build of its own.
scripts/http-load.sh --profile dev --duration 2 --rounds 1 --no-memory

step "the observability stack end to end: predictor, Collector, Jaeger, VictoriaLogs, Prometheus with the rules, Alertmanager, webhook (scripts/stack_e2e.py)"
# The compose topology on loopback with the pinned builds (reused from the deploy step):
# traces checked through Jaeger's query API, then Prometheus scraping /metrics and
# evaluating deploy/prometheus/rules, Alertmanager routing and inhibition, the scale-out
# tier and the OTLP metrics path; about 2 minutes.
python3 scripts/stack_e2e.py

step "fleet-wide drift end to end: three predictor replicas, one Prometheus with the fleet rules (scripts/fleet_drift_e2e.py)"
# Each replica below its own minimum, the fleet-wide PSI over all three crossing 0.1 and
# equal to the engine's on all rows (an unscraped oracle), FeatureDrift firing for the
# shifted features only; then 130 s of steady traffic without a drift alert. About 2.5 min.
python3 scripts/fleet_drift_e2e.py
