#!/usr/bin/env bash
# Renders deploy/prometheus/prometheus.local.yml.template into OUT_DIR/prometheus.yml for a
# Prometheus on this machine (the end-to-end test), and deploy/alertmanager/alertmanager.yml
# into OUT_DIR/alertmanager.yml with the webhook URL replaced; checks both with promtool and
# amtool when they are installed.
#
#   deploy/prometheus/render-local.sh OUT_DIR
#
# Environment (defaults in brackets):
#   PREDICTOR_ADDR    [127.0.0.1:8080]
#   COLLECTOR_ADDR    [127.0.0.1:8888]   the collector's own metrics
#   OTLP_METRICS_ADDR [127.0.0.1:8889]   the collector's prometheus exporter (OTLP senders)
#   ALERTMANAGER_ADDR [127.0.0.1:9093]
#   PROMETHEUS_ADDR   [127.0.0.1:9090]
#   SCRAPE_INTERVAL   [5s]   scrape and evaluation interval
#   WEBHOOK_URL       [http://127.0.0.1:5001/alerts] Alertmanager's webhook receiver (the
#                     e-mail route stays: its notifications fail and are logged; the
#                     webhook gets every alert, pages included)
#   FAST_FOR          [unset] when set (e.g. 10s), the rules are copied to OUT_DIR/rules with
#                     every `for:` replaced by this duration, so that a test need not wait
#                     5-15 minutes for an alert to fire. The rate windows ([5m] ...) are kept:
#                     a ratio over 5 minutes still takes up to 5 minutes to fall back after
#                     the traffic turns healthy. Without FAST_FOR the rules are used in place.
#                     FAST_FOR also shortens Alertmanager's group_wait and group_interval
#                     (to 1s and 5s), which otherwise delay notifications, resolved ones
#                     included, by 30 s and up to 5 minutes.
#
# Then, with the programs of scripts/stack-binaries.sh (the directory it prints):
#       alertmanager --config.file=OUT_DIR/alertmanager.yml --storage.path=OUT_DIR/am \
#         --web.listen-address=$ALERTMANAGER_ADDR --cluster.listen-address=
#       prometheus --config.file=OUT_DIR/prometheus.yml --storage.tsdb.path=OUT_DIR/data \
#         --web.listen-address=$PROMETHEUS_ADDR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: render-local.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

rules_dir=$here/rules
if [ -n "${FAST_FOR:-}" ]; then
  rules_dir=$out/rules
  mkdir -p "$rules_dir"
  for f in "$here"/rules/*.yml; do
    sed -E "s/^([[:space:]]+for:)[[:space:]]+[0-9a-z]+$/\1 ${FAST_FOR}/" "$f" >"$rules_dir/$(basename "$f")"
  done
fi

sed -e "s|@PREDICTOR_ADDR@|${PREDICTOR_ADDR:-127.0.0.1:8080}|g" \
    -e "s|@COLLECTOR_ADDR@|${COLLECTOR_ADDR:-127.0.0.1:8888}|g" \
    -e "s|@OTLP_METRICS_ADDR@|${OTLP_METRICS_ADDR:-127.0.0.1:8889}|g" \
    -e "s|@ALERTMANAGER_ADDR@|${ALERTMANAGER_ADDR:-127.0.0.1:9093}|g" \
    -e "s|@PROMETHEUS_ADDR@|${PROMETHEUS_ADDR:-127.0.0.1:9090}|g" \
    -e "s|@SCRAPE_INTERVAL@|${SCRAPE_INTERVAL:-5s}|g" \
    -e "s|@RULES_DIR@|${rules_dir}|g" \
    "$here/prometheus.local.yml.template" >"$out/prometheus.yml"

am_fast=()
if [ -n "${FAST_FOR:-}" ]; then
  am_fast=(-e "s/^  group_wait: .*/  group_wait: 1s/" -e "s/^  group_interval: .*/  group_interval: 5s/")
fi
sed -e "s|http://webhook:5001/alerts|${WEBHOOK_URL:-http://127.0.0.1:5001/alerts}|" "${am_fast[@]}" \
    "$here/../alertmanager/alertmanager.yml" >"$out/alertmanager.yml"

if grep -q '@[A-Z_]*@' "$out/prometheus.yml"; then
  echo "render-local.sh: unsubstituted placeholder in $out/prometheus.yml" >&2
  exit 1
fi
if command -v promtool >/dev/null; then
  promtool check config "$out/prometheus.yml" >&2
fi
if command -v amtool >/dev/null; then
  amtool check-config "$out/alertmanager.yml" >&2
fi
echo "$out/prometheus.yml"
