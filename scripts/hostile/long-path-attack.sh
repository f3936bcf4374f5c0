#!/usr/bin/env bash
# scripts/hostile/long-path-attack.sh BINARY LABEL: normal-traffic throughput with 0, 2 and 8 long-path connections.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "needs wrk (Debian: apt-get install -y wrk)" >&2; exit 1; }
bin=$1; label=$2; port=18181
WORKERS=2 PORT=$port RUST_LOG=error "$bin" >/tmp/$label.log 2>&1 &
pid=$!
for i in $(seq 100); do curl -sf localhost:$port/health/ready >/dev/null && break; sleep 0.1; done
for conns in 0 2 8; do
  apid=
  if [ $conns -gt 0 ]; then
    wrk -t1 -c$conns -d14s -s $dir/long.lua http://127.0.0.1:$port > /tmp/$label-attack-$conns.txt 2>&1 &
    apid=$!
    sleep 2
  fi
  rps=$(wrk -t1 -c16 -d10s -s $dir/normal.lua http://127.0.0.1:$port | awk '/Requests\/sec/ {print $2}')
  [ -n "$apid" ] && wait $apid
  arps=$( [ $conns -gt 0 ] && awk "/Requests\\/sec/ {print \$2}" /tmp/$label-attack-$conns.txt || echo -)
  echo "$label attackers=$conns normal_rps=$rps attack_rps=$arps path_bytes=${LONG_PATH_BYTES:-61440}"
done
kill $pid; wait $pid 2>/dev/null
