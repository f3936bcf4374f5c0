#!/usr/bin/env python3
"""Fleet-wide drift end to end: three predictor replicas behind one Prometheus 3 with the
repository's rules (deploy/prometheus/rules/{fleet_drift,ml}.yml), on this machine.

1. Drift: each replica gets a third of a shifted stream (the load generator's `drift`
   scenario, 450 requests of one row each, its own seed), below its own minimum of 500:
   each replica's /health/detailed says `insufficient_data`. A fourth predictor, the
   oracle, not scraped, gets every row of all three (the same seeds send the same rows).
   Over all replicas the fleet-wide PSI of the shifted features (petal_length, petal_width)
   crosses 0.1 and FeatureDrift fires in Prometheus for them only; the unshifted ones stay
   below 0.1; and each fleet-wide PSI equals the oracle's in-process PSI (the engine on all
   rows in one process) within TOLERANCE, which covers increase()'s extrapolation to the
   window's end: each replica's counts are scaled by (sampled + up to one scrape interval)
   / sampled, slightly differently per replica.
2. Steady: unshifted traffic on all three for STEADY_S seconds; over every evaluation once
   the drift has left the fleet window (STEADY_S / FLEET_WINDOW windows of it, counted and
   printed) no fleet-wide PSI reaches 0.1 and no FeatureDrift / PredictionDrift is pending
   or firing.

To keep the run short the rules are copied with `for:` shortened (as render-local.sh's
FAST_FOR does) and the fleet rules' 5-minute range replaced by FLEET_WINDOW: the formulas
are the repository's, only the window's length differs.

Usage: scripts/fleet_drift_e2e.py [--keep] [--target-dir DIR]
Needs scripts/stack-binaries.sh's Prometheus (MLOTEL_STACK_CACHE) and debug builds of
predictor and loadgen (built here). Exits 0 when every check passes, 1 otherwise.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack_e2e import (  # noqa: E402 (the shared helpers of the stack test)
    ROOT, Failure, Processes, Prometheus, free_port, http_json, stack_binaries, wait_for,
)

SHIFTED = ("petal_length", "petal_width")  # loadgen's default --shift-features
UNSHIFTED = ("sepal_length", "sepal_width")
REPLICAS = 3
REQUESTS = 450  # per replica: below the minimum of 500, 1350 over the fleet
FLEET_WINDOW = "10s"  # the fleet rules' [5m] in this run
STEADY_S = 130
STEADY_RATE = 40  # requests a second per replica: 1200 rows per fleet window
TOLERANCE = (0.02, 0.002)  # relative, absolute
VERSION = "2.0.0"  # --split 1: every request to 2.0.0, so the oracle sees the same rows
STARTED = time.monotonic()
PSI = "job_model_version_feature:ml_feature_psi:rate5m"


def log(message):
    print(f"[fleet-drift-e2e {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def fast_rules(rules_dir):
    """The repository's rules with `for:` at 2s and the fleet window at FLEET_WINDOW."""
    os.makedirs(rules_dir)
    for name in ("fleet_drift.yml", "ml.yml"):
        with open(os.path.join(ROOT, "deploy/prometheus/rules", name)) as source:
            text = source.read()
        text = re.sub(r"(?m)^(\s+for:)\s+[0-9a-z]+$", r"\1 2s", text)
        if name == "fleet_drift.yml":
            text = text.replace("[5m]", f"[{FLEET_WINDOW}]")
        with open(os.path.join(rules_dir, name), "w") as target:
            target.write(text)


def prometheus_config(path, rules_dir, replicas, address):
    targets = ", ".join(f"'{replica}'" for replica in replicas)
    with open(path, "w") as config:
        config.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules_dir}/*.yml
scrape_configs:
  - job_name: predictor
    static_configs:
      - targets: [{targets}]
  - job_name: prometheus
    static_configs:
      - targets: ['{address}']
""")


def by_feature(result):
    return {series["metric"]["ml_feature_name"]: float(series["value"][1]) for series in result}


def oracle_psi(address):
    """The oracle's own PSI per feature of VERSION, from its /metrics."""
    with urllib_open(f"http://{address}/metrics") as response:
        text = response.read().decode()
    values = {}
    pattern = re.compile(r'^ml_feature_drift_ratio\{([^}]*)\} (\S+)$')
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("ml_model_version") == VERSION and labels.get("ml_drift_method") == "psi":
            values[labels["ml_feature_name"]] = float(match.group(2))
    return values


def urllib_open(url):
    return urllib.request.urlopen(url, timeout=5)


def run(args, workdir, procs):
    target = args.target_dir or os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    log("building predictor and loadgen (debug)")
    subprocess.run(["cargo", "build", "-q", "-p", "predictor", "-p", "loadgen"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    predictor_bin = os.path.join(target, "debug", "predictor")
    loadgen_bin = os.path.join(target, "debug", "loadgen")
    prometheus_bin = os.path.join(stack_binaries(), "prometheus")

    replicas = [f"127.0.0.1:{free_port()}" for _ in range(REPLICAS)]
    oracle = f"127.0.0.1:{free_port()}"
    prometheus_addr = f"127.0.0.1:{free_port()}"
    env = {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_TRACES_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "RUST_LOG": "warn"}
    for index, address in enumerate(replicas + [oracle]):
        host, port = address.split(":")
        name = "oracle" if address == oracle else f"replica-{index}"
        procs.start(name, [predictor_bin, "--host", host, "--port", port, "--workers", "1",
                           "--split", "1", *(["--drift-window", "1h"] if address == oracle else [])],
                    env=env)
    rules_dir = os.path.join(workdir, "rules")
    fast_rules(rules_dir)
    config = os.path.join(workdir, "prometheus.yml")
    prometheus_config(config, rules_dir, replicas, prometheus_addr)
    procs.start("prometheus", [prometheus_bin, f"--config.file={config}",
                               f"--storage.tsdb.path={workdir}/prometheus",
                               f"--web.listen-address={prometheus_addr}"])
    prometheus = Prometheus(prometheus_addr)

    def ready(url):
        procs.check_alive()
        with urllib_open(url) as response:
            return response.status == 200

    for address in replicas + [oracle]:
        wait_for(f"predictor {address} ready", lambda: ready(f"http://{address}/health/ready"), 60, 0.2)
    wait_for("Prometheus ready", lambda: ready(f"http://{prometheus_addr}/-/ready"), 30, 0.2)
    # Every replica scraped twice with its bins at zero, so increase() starts from 0.
    wait_for("three replicas' bin counters scraped",
             lambda: len(prometheus.query('count_over_time(ml_feature_bin_observations_total'
                                          f'{{ml_feature_name="petal_length", ml_drift_bin="0", ml_model_version="{VERSION}"}}[1m]) >= 2'))
             == REPLICAS, 30, 0.5)

    log(f"phase 1: a third of a shifted stream on each replica ({REQUESTS} rows each), all of it on the oracle")
    children = []
    for index, address in enumerate(replicas):
        for url in (address, oracle):
            children.append(procs.start(f"loadgen-drift-{index}-{url.split(':')[1]}", [
                loadgen_bin, "--url", f"http://{url}", "--scenario", "drift", "--requests", str(REQUESTS),
                "--rate", "300", "--concurrency", "2", "--seed", str(index + 1)]))
    for child in children:
        if child.wait(timeout=120) != 0:
            raise Failure("a load generator failed; see its log")
    for address in replicas:
        health = http_json(f"http://{address}/health/detailed")
        statuses = {model["version"]: model["drift_status"] for model in health["models"]}
        if statuses.get(VERSION) != "insufficient_data":
            raise Failure(f"replica {address}: drift_status {statuses}, expected insufficient_data for {VERSION}")
    log(f"each replica says insufficient_data for {VERSION}")

    # Every row scraped from every replica, and the rules evaluated on them.
    wait_for("every replica's rows scraped", lambda: len(prometheus.query(
        'sum by (instance) (ml_feature_bin_observations_total'
        f'{{ml_feature_name="petal_length", ml_model_version="{VERSION}"}}) == {REQUESTS}')) == REPLICAS, 20, 0.5)
    time.sleep(2.5)  # two rule evaluations (1 s each) after that scrape
    engine = wait_for("the oracle's PSI of every feature", lambda: (lambda v: v if len(v) == 4 else None)(oracle_psi(oracle)), 20, 0.5)
    selector = f'{{ml_model_version="{VERSION}"}}'
    fleet = wait_for("the fleet-wide PSI of every feature",
                     lambda: (lambda v: v if len(v) == 4 else None)(by_feature(prometheus.query(PSI + selector))), 20, 0.5)
    log("fleet-wide PSI vs the engine on all rows (oracle): " + ", ".join(
        f"{feature} {fleet[feature]:.4f} / {engine[feature]:.4f}" for feature in sorted(fleet)))
    relative, absolute = TOLERANCE
    for feature, value in fleet.items():
        if abs(value - engine[feature]) > relative * engine[feature] + absolute:
            raise Failure(f"{feature}: fleet-wide PSI {value} vs the engine's {engine[feature]}")
        if (feature in SHIFTED) != (value >= 0.1):
            raise Failure(f"{feature}: fleet-wide PSI {value} ({'shifted' if feature in SHIFTED else 'unshifted'})")

    def drift_alerts(state):
        result = prometheus.query(f'ALERTS{{alertname="FeatureDrift", alertstate="{state}", ml_model_version="{VERSION}"}}')
        return {series["metric"]["ml_feature_name"] for series in result}

    # Both shifted features (they may start firing one evaluation apart), then nothing else.
    wait_for("FeatureDrift firing for the shifted features", lambda: drift_alerts("firing") >= set(SHIFTED), 20, 0.5)
    firing = drift_alerts("firing") | drift_alerts("pending")
    if firing != set(SHIFTED):
        raise Failure(f"FeatureDrift fires for {sorted(firing)}, expected {sorted(SHIFTED)}")
    log(f"FeatureDrift fires for {sorted(firing)} over all replicas (no instance label)")

    log(f"phase 2: steady traffic on every replica for {STEADY_S} s ({STEADY_RATE} requests/s each)")
    steady = [procs.start(f"loadgen-steady-{index}", [
        loadgen_bin, "--url", f"http://{address}", "--scenario", "steady", "--duration", str(STEADY_S),
        "--rate", str(STEADY_RATE), "--concurrency", "2", "--seed", str(100 + index)])
        for index, address in enumerate(replicas)]
    window_s = int(FLEET_WINDOW.rstrip("s"))
    started = time.monotonic()
    for child in steady:
        if child.wait(timeout=STEADY_S + 60) != 0:
            raise Failure("a steady load generator failed; see its log")
    # Evaluations from one window (plus the alert's for: and a scrape) after the drift ended.
    clean_s = int(time.monotonic() - started) - window_s - 4
    span = f"[{clean_s}s]"
    evaluations = prometheus.query(f"min(count_over_time({PSI}{selector}{span}))")
    worst = prometheus.query(f"max(max_over_time({PSI}{selector}{span}))")
    alerts = prometheus.query(f'count_over_time(ALERTS{{alertname=~"FeatureDrift|PredictionDrift", ml_model_version="{VERSION}"}}{span})')
    if not evaluations or not worst:
        raise Failure("no fleet-wide PSI during the steady run")
    count, highest = int(float(evaluations[0]["value"][1])), float(worst[0]["value"][1])
    log(f"steady: {count} evaluations per feature over {clean_s} s = {clean_s // window_s} fleet windows of "
        f"{FLEET_WINDOW}, highest fleet-wide PSI {highest:.4f}, drift alerts {len(alerts)}")
    if highest >= 0.1 or alerts:
        raise Failure(f"steady traffic: highest PSI {highest}, alerts {alerts}")
    log("all checks passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--target-dir", help="cargo target directory [CARGO_TARGET_DIR or ./target]")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="mlotel-fleet-drift-")
    procs = Processes(workdir)
    try:
        run(args, workdir, procs)
        return 0
    except (Failure, subprocess.CalledProcessError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        procs.tails()
        return 1
    finally:
        procs.stop_all()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
