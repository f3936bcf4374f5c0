#!/usr/bin/env python3
"""Memory of the demo predictor while its collector accepts connections but never answers,
under requests that carry oversized attributes (a 100 KB User-Agent by default).

    cargo build --release -p predictor
    python3 scripts/probe-export-memory.py --binary target/release/predictor
    python3 scripts/probe-export-memory.py --binary target/release/predictor \\
        --env OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=1024

Prints one JSON line: resident memory (VmRSS) after start-up, after the requests, the peak
(VmHWM), and the spans the exporter dropped (from /health/detailed). Standard library only.
"""

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the predictor binary")
    parser.add_argument("--requests", type=int, default=3500)
    parser.add_argument("--attribute-bytes", type=int, default=100_000,
                        help="length of the User-Agent each request sends")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra environment variable for the predictor")
    args = parser.parse_args()

    # Completes TCP handshakes (the backlog) but never accepts, reads or answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)
    env = dict(os.environ)
    env.update({
        "PORT": "0",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "RUST_LOG": "warn,predictor=info",
    })
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    process = subprocess.Popen([args.binary, "--workers", "2"], env=env,
                               stdout=subprocess.PIPE, text=True)
    address = None
    deadline = time.monotonic() + 60
    while address is None:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            sys.exit("the predictor did not log its address")
        found = re.search(r"listening on http://([0-9.]+:[0-9]+)", line)
        if found:
            address = found.group(1)
    # Keep draining stdout so the service never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    host, port = address.split(":")
    try:
        started_kib = rss_kib(process.pid)
        body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
        agent = "a" * args.attribute_bytes
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        began = time.monotonic()
        for _ in range(args.requests):
            connection.request("POST", "/v1/models/iris:predict", body=body, headers={
                "Content-Type": "application/json", "User-Agent": agent})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"a prediction answered {response.status}")
        sent_seconds = time.monotonic() - began
        time.sleep(1)  # the batch processor's queue fills within its schedule delay
        after_kib = rss_kib(process.pid)
        peak_kib = rss_kib(process.pid, "VmHWM")
        connection.request("GET", "/health/detailed")
        detailed = json.loads(connection.getresponse().read())
        dropped = sum(exporter.get("dropped", 0)
                      for exporter in detailed.get("exporters", []))
        print(json.dumps({
            "requests": args.requests,
            "attribute_bytes": args.attribute_bytes,
            "env": args.env,
            "seconds": round(sent_seconds, 1),
            "rss_start_mib": round(started_kib / 1024, 1),
            "rss_after_mib": round(after_kib / 1024, 1),
            "rss_peak_mib": round(peak_kib / 1024, 1),
            "spans_dropped": dropped,
        }))
    finally:
        process.kill()
        process.wait()
        silent.close()


if __name__ == "__main__":
    main()
