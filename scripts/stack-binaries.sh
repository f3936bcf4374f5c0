#!/usr/bin/env bash
# Builds (the first time) or reuses the stack's programs at the versions of
# deploy/versions.env, and prints the directory that holds them:
#   jaeger                Jaeger v2 (deploy/stack-build/jaeger: github.com/jaegertracing/jaeger)
#   otelcol               mlotel's Collector distribution (deploy/otel-collector)
#   prometheus, promtool  Prometheus 3 (deploy/stack-build/prometheus)
#   alertmanager, amtool  Alertmanager (deploy/stack-build/alertmanager)
#   victoria-logs         VictoriaLogs, the log store (deploy/stack-build/victorialogs:
#                         github.com/VictoriaMetrics/VictoriaLogs, app/victoria-logs)
# Each program is cached outside the repository, keyed by its version and by a hash of
# its build module (go.mod, go.sum, *.go, build flags):
#   ${MLOTEL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlotel/stack}/<program>-<version>-<hash>/
# Needs Go (the version deploy/*/go.mod names) and the Go module proxy the first time;
# the Go builds run under `nice -n 15` (MLOTEL_STACK_NICE overrides), lean (-trimpath,
# -s -w) and Prometheus without service discovery beyond static and file (remove_all_sd:
# the repository's Prometheus configs use static_configs only).
# Usage: scripts/stack-binaries.sh [--quiet]   (progress goes to stderr; stdout is the dir)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
nice_level=${MLOTEL_STACK_NICE:-15}
quiet=
[ "${1:-}" = --quiet ] && quiet=1

say() { [ -n "$quiet" ] || echo "stack-binaries: $*" >&2; }
die() { echo "stack-binaries: error: $*" >&2; exit 1; }

# versions.env is KEY=VALUE lines; read it without executing it.
declare -A pinned
while IFS='=' read -r key value; do
  [[ $key =~ ^[A-Z_]+$ ]] && pinned[$key]=$value
done < <(grep -E '^[A-Z_]+=' "$repo/deploy/versions.env")
for key in JAEGER_VERSION JAEGER_MODULE_VERSION OTELCOL_VERSION PROMETHEUS_VERSION \
  PROMETHEUS_MODULE_VERSION ALERTMANAGER_VERSION VICTORIALOGS_VERSION; do
  [ -n "${pinned[$key]:-}" ] || die "deploy/versions.env has no $key"
done

cache_root=${MLOTEL_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlotel/stack}
mkdir -p "$cache_root"
# Go's build cache for these programs is private and emptied after each one is built: the
# binaries are what is kept, and one program's compiled packages take 1-3 GB (Jaeger's
# the most), so the disk holds one program's at a time, not all of them.
# MLOTEL_STACK_GOCACHE names another (kept) build cache.
gocache=${MLOTEL_STACK_GOCACHE:-$cache_root/.go-build}
trim_gocache() { [ -n "${MLOTEL_STACK_GOCACHE:-}" ] || rm -rf "$cache_root/.go-build"; }

go_checked=
require_go() {
  [ -n "$go_checked" ] && return
  command -v go >/dev/null || die "Go is not installed (the stack's programs are built from their Go modules; install Go $(sed -n 's/^go //p' "$repo/deploy/otel-collector/go.mod") or newer, e.g. Debian's golang-go if recent enough, or set PATH to a Go toolchain)"
  local want have
  want=$(sed -n 's/^go //p' "$repo/deploy/otel-collector/go.mod")
  have=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
    die "Go $have is older than the $want that deploy/otel-collector/go.mod needs"
  fi
  [ "$(go env GOPROXY)" != off ] || die "GOPROXY=off: the first build downloads the programs' modules from the Go module proxy"
  go_checked=1
}

# module_version DIR MODULE: the version of MODULE that DIR/go.mod requires.
module_version() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# hash of a build module: what goes into the binary besides the version.
module_hash() {
  (cd "$1" && cat go.mod go.sum $(ls ./*.go 2>/dev/null) && echo "$2") | sha256sum | cut -c1-12
}

# build PROGRAM VERSION MODULE_DIR PACKAGE LDFLAGS [TAGS]: echoes the program's path.
build() {
  local program=$1 version=$2 dir=$3 package=$4 ldflags=$5 tags=${6:-}
  local flags="-trimpath -ldflags=-s -w $ldflags -tags=$tags"
  local key
  key=$program-$version-$(module_hash "$dir" "$flags")
  local out=$cache_root/$key
  if [ -x "$out/$program" ]; then
    say "$program $version: cached ($out)"
    echo "$out/$program"
    return
  fi
  require_go
  say "$program $version: building (first time; nice -n $nice_level) ..."
  local started=$SECONDS tmp
  tmp=$(mktemp -d "$cache_root/.build-$program.XXXXXX")
  local log=$tmp/build.log
  if [ "$program" = alertmanager ] || [ "$program" = amtool ]; then
    dir=$(alertmanager_without_ui "$dir" "$tmp") || { rm -rf "$tmp"; die "could not prepare Alertmanager's module (see above)"; }
  fi
  # -buildvcs=false: otelcol's module lies inside this git checkout, whose state is no
  # part of the program (and git may refuse a checkout owned by another user).
  if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOCACHE=$gocache nice -n "$nice_level" \
    go build -trimpath -ldflags="-s -w $ldflags" ${tags:+-tags=$tags} -o "$tmp/$program" "$package") \
    >"$log" 2>&1; then
    cat "$log" >&2
    if grep -q 'no space left on device' "$log"; then
      rm -rf "$tmp"; trim_gocache
      die "building $program: no space left on device (a first build needs about 4 GB free for Go's module and build caches: df -h $cache_root)"
    fi
    if grep -qE 'reading https?://|dial tcp|no such host|403 Forbidden|410 Gone|GOPROXY=off' "$log"; then
      rm -rf "$tmp"
      die "could not download $program's modules through the Go module proxy ($(go env GOPROXY)); the first build needs it"
    fi
    rm -rf "$tmp"
    die "building $program $version failed (see above)"
  fi
  rm -rf "$log" "$tmp/alertmanager-src" "$tmp/go.mod" "$tmp/go.sum"
  # promtool and amtool share their build cache with prometheus and alertmanager.
  case $program in jaeger | otelcol | promtool | amtool | victoria-logs) trim_gocache ;; esac
  # A finished build appears at once: a concurrent or interrupted run never sees half of it.
  if ! mv -T "$tmp" "$out" 2>/dev/null; then rm -rf "$tmp"; fi
  say "$program $version: built in $((SECONDS - started)) s"
  echo "$out/$program"
}

# Alertmanager's module embeds ui/app/dist, the web UI that its release process builds with
# npm and that the module zip lacks, so `go build` fails ("pattern app/dist: no matching
# files found"). Build from a copy of the module with a one-page placeholder there instead
# (the tests use the API, never the UI): a copy of deploy/stack-build/alertmanager whose
# go.mod replaces the module with that copy. Echoes the copy's build module.
alertmanager_without_ui() { # BUILD_MODULE_DIR TMP
  local module=github.com/prometheus/alertmanager version source copy
  version=$(module_version "$1" "$module")
  source=$(cd "$1" && GOFLAGS=-mod=readonly go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$source" ] || { echo "no source for $module@$version" >&2; return 1; }
  copy=$2/alertmanager-src
  cp -r "$source" "$copy" && chmod -R u+w "$copy"
  for ui in elm mantine; do
    mkdir -p "$copy/ui/app/dist/$ui"
    echo "<!doctype html><title>Alertmanager</title><p>UI left out of this build: use the API (/api/v2)." \
      >"$copy/ui/app/dist/$ui/index.html"
  done
  cp "$1/go.mod" "$1/go.sum" "$2/"
  (cd "$2" && go mod edit -replace "$module=$copy") || return 1
  echo "$2"
}

check_pin() { # DIR MODULE WANT
  local got
  got=$(module_version "$repo/$1" "$2")
  [ "$got" = "$3" ] || die "$1/go.mod requires $2 $got, deploy/versions.env pins $3 (scripts/check_stack_config.py explains)"
}
check_pin deploy/stack-build/jaeger github.com/jaegertracing/jaeger "${pinned[JAEGER_MODULE_VERSION]}"
check_pin deploy/otel-collector go.opentelemetry.io/collector/otelcol "v${pinned[OTELCOL_VERSION]}"
check_pin deploy/stack-build/prometheus github.com/prometheus/prometheus "${pinned[PROMETHEUS_MODULE_VERSION]}"
check_pin deploy/stack-build/alertmanager github.com/prometheus/alertmanager "v${pinned[ALERTMANAGER_VERSION]}"
check_pin deploy/stack-build/victorialogs github.com/VictoriaMetrics/VictoriaLogs "v${pinned[VICTORIALOGS_VERSION]}"

common=github.com/prometheus/common/version
prom_info="-X $common.Version=${pinned[PROMETHEUS_VERSION]} -X $common.Branch=HEAD -X $common.Revision=${pinned[PROMETHEUS_MODULE_VERSION]}"
# VictoriaLogs reads its version from VictoriaMetrics' buildinfo (its Makefile sets it so).
vl_info="-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-v${pinned[VICTORIALOGS_VERSION]}"
am_info="-X $common.Version=${pinned[ALERTMANAGER_VERSION]} -X $common.Branch=HEAD -X $common.Revision=v${pinned[ALERTMANAGER_VERSION]}"

paths=()
paths+=("$(build jaeger "${pinned[JAEGER_VERSION]}" "$repo/deploy/stack-build/jaeger" \
  github.com/jaegertracing/jaeger/cmd/jaeger \
  "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=v${pinned[JAEGER_VERSION]}")")
paths+=("$(build otelcol "${pinned[OTELCOL_VERSION]}" "$repo/deploy/otel-collector" . \
  "-X main.version=${pinned[OTELCOL_VERSION]}")")
paths+=("$(build prometheus "${pinned[PROMETHEUS_VERSION]}" "$repo/deploy/stack-build/prometheus" \
  github.com/prometheus/prometheus/cmd/prometheus "$prom_info" remove_all_sd)")
paths+=("$(build promtool "${pinned[PROMETHEUS_VERSION]}" "$repo/deploy/stack-build/prometheus" \
  github.com/prometheus/prometheus/cmd/promtool "$prom_info" remove_all_sd)")
paths+=("$(build alertmanager "${pinned[ALERTMANAGER_VERSION]}" "$repo/deploy/stack-build/alertmanager" \
  github.com/prometheus/alertmanager/cmd/alertmanager "$am_info")")
paths+=("$(build amtool "${pinned[ALERTMANAGER_VERSION]}" "$repo/deploy/stack-build/alertmanager" \
  github.com/prometheus/alertmanager/cmd/amtool "$am_info")")
paths+=("$(build victoria-logs "${pinned[VICTORIALOGS_VERSION]}" "$repo/deploy/stack-build/victorialogs" \
  github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs "$vl_info")")

# One directory with the seven programs: named by the set of builds, so that two
# checkouts pinning different versions never overwrite each other's.
set_dir=$cache_root/bin-$(printf '%s\n' "${paths[@]}" | sha256sum | cut -c1-12)
if [ ! -d "$set_dir" ]; then
  tmp=$(mktemp -d "$cache_root/.bin.XXXXXX")
  for path in "${paths[@]}"; do ln -s "$path" "$tmp/$(basename "$path")"; done
  mv -T "$tmp" "$set_dir" 2>/dev/null || rm -rf "$tmp"
fi
echo "$set_dir"
