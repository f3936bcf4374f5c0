#!/usr/bin/env bash
# Checks the stack's configuration under deploy/ with the programs' own checkers, at the
# versions compose runs (deploy/versions.env; scripts/stack-binaries.sh builds or reuses them):
#   otelcol validate        every collector config in the repository (our distribution)
#   jaeger validate         deploy/jaeger/config.yaml
#   promtool check config   deploy/prometheus/prometheus.yml (its rule_files included)
#   promtool check rules    deploy/prometheus/rules/*.yml
#   promtool test rules     deploy/prometheus/tests/*.yml
#   amtool check-config     deploy/alertmanager/alertmanager.yml, and its routing
#   victoria-logs           the flags docker-compose.yml gives it (its defaults filled in)
#   the local variant       deploy/prometheus/render-local.sh renders a valid config
# then the dashboards and the compose file (docker-compose config, check_stack_config.py).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(scripts/stack-binaries.sh)
export PATH="$bin:$PATH"
promtool --version 2>&1 | head -1
amtool --version 2>&1 | head -1
otelcol --version
printf "jaeger %s\n" "$(jaeger version 2>/dev/null)"

# Every collector config, validated by the collector itself (components, settings, their
# types). aws-cloudwatch.yaml needs the awsemf and awsxray exporters, which our
# distribution leaves out (deploy/otel-collector/components.go says why): its structure
# is checked by check_stack_config.py below, and only the contrib image runs it.
validated=0
while IFS= read -r config; do
  case $config in
    */examples/aws-cloudwatch.yaml) echo "otelcol validate: $config skipped (awsemf/awsxray not in our distribution)"; continue ;;
  esac
  # managed-otlp.yaml reads its endpoint and credentials from the environment.
  OTLP_VENDOR_ENDPOINT=https://otlp.vendor.invalid OTLP_VENDOR_AUTHORIZATION="Bearer test" \
    otelcol validate --config="$config"
  validated=$((validated + 1))
done < <(find deploy/otel-collector -name '*.yaml' -o -name '*.yml' | sort)
echo "otelcol validate: ok ($validated configs)"
for config in deploy/jaeger/*.yaml; do
  jaeger validate --config="$config"
done
echo "jaeger validate: ok ($(ls deploy/jaeger/*.yaml | tr '\n' ' '))"

promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml
amtool check-config deploy/alertmanager/alertmanager.yml

# Routing: pages go to e-mail and the webhook, tickets to the webhook only.
route() { amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml "$@" 2>/dev/null; }
for case in "severity=page|email-oncall,webhook" "severity=ticket|webhook" "|webhook"; do
  labels=${case%%|*} want=${case#*|}
  # shellcheck disable=SC2086 # word splitting of the label list is intended
  got=$(route alertname=Test $labels)
  if [ "$got" != "$want" ]; then
    echo "error: alertmanager routes alertname=Test $labels to '$got', want '$want'" >&2
    exit 1
  fi
done
echo "alertmanager routing: ok"

# Every alert has a runbook page, and every runbook_url points to one.
for url in $(grep -ho 'runbook_url: .*' deploy/prometheus/rules/*.yml | sed "s/runbook_url: //; s/[\"']//g" | sort -u); do
  page=docs/runbooks/${url##*/}
  [ -f "$page" ] || { echo "error: $url: no $page" >&2; exit 1; }
done
for name in $(grep -ho -- '- alert: .*' deploy/prometheus/rules/*.yml | sed 's/- alert: //' | sort -u); do
  grep -q "runbooks/$name.md" deploy/prometheus/rules/*.yml || { echo "error: alert $name has no runbook_url to docs/runbooks/$name.md" >&2; exit 1; }
  grep -q "($name.md)" docs/runbooks/README.md || { echo "error: docs/runbooks/README.md does not list $name.md" >&2; exit 1; }
done
echo "runbooks: ok"

# The local variant (end-to-end test) renders and passes the same checks.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FAST_FOR=10s deploy/prometheus/render-local.sh "$tmp" >/dev/null
echo "local variant: ok"

# Grafana dashboards: generated from deploy/grafana/generate.py (the committed JSON must be
# what it writes), and linted: panel ids, queries, data sources, variables, metric names
# documented in docs/metrics.md or recorded by the rules.
python3 deploy/grafana/generate.py --check
python3 scripts/dashboard_queries.py --check deploy/grafana/dashboards/*.json

# The compose stack: docker-compose's own validation (with .env.example's values, as a
# user's .env would give them), then the Compose Specification schema, bind-mounted paths,
# ports on 127.0.0.1, pinned images, the collector configs' structure, Grafana
# provisioning and the predictor's Dockerfile (scripts/check_stack_config.py).
if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose
  else
    echo "error: docker-compose missing; install it (Debian: sudo apt-get install docker-compose)" >&2
    exit 1
  fi
fi
# .env.example leaves the Grafana password empty: compose must refuse it as it is ...
if guard=$(docker-compose -f docker-compose.yml --env-file .env.example config -q 2>&1); then
  echo "error: docker-compose accepts .env.example's empty GRAFANA_ADMIN_PASSWORD" >&2
  exit 1
fi
case $guard in
  *"set GRAFANA_ADMIN_PASSWORD in .env"*) ;;
  *) echo "error: docker-compose refused .env.example, but not for the password: $guard" >&2; exit 1 ;;
esac
# ... and accept it once a password is chosen; with deploy/versions.env as an env file, too.
GRAFANA_ADMIN_PASSWORD=chosen docker-compose -f docker-compose.yml --env-file .env.example config -q
GRAFANA_ADMIN_PASSWORD=chosen docker-compose -f docker-compose.yml --env-file deploy/versions.env config -q
echo "docker-compose config: ok (and the Grafana password guard holds with .env.example)"
# Debian's python3 has the yaml and jsonschema modules docker-compose pulled in; another
# python3 first on PATH (pyenv, a venv) may not.
stack_python=python3
if [ -x /usr/bin/python3 ]; then stack_python=/usr/bin/python3; fi
"$stack_python" scripts/check_stack_config.py
# ... and that checker catches what it is meant to: each mutation of the real files (an
# unbound port, an unpinned image, memory_limiter second, an unknown data source uid, a
# root USER, a rust image older than the lock needs, ...) must be reported.
"$stack_python" scripts/check_stack_config.py --self-test

# VictoriaLogs has no config file: its flags are the configuration. It parses them all
# (values included: sizes, durations) before -version prints and exits.
vl_flags=$("$stack_python" - <<'PY'
import re, yaml
command = yaml.safe_load(open("docker-compose.yml"))["services"]["victorialogs"]["command"]
print("\n".join(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", flag) for flag in command))
PY
)
mapfile -t vl_args <<<"$vl_flags"
victoria-logs "${vl_args[@]}" -version
echo "victoria-logs flags: ok (${vl_args[*]})"
