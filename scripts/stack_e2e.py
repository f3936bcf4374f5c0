#!/usr/bin/env python3
"""The observability stack end to end, on this machine, with real parts.

Starts the demo predictor, a real Prometheus scraping its /metrics with the repository's
rules (deploy/prometheus/rules, `for:` shortened by render-local.sh), a real Alertmanager
with the repository's routing and inhibition (deploy/alertmanager), and a webhook receiver
(in this process). Runs the load generator's scenarios against the predictor, then checks,
polling with deadlines:

1. every Prometheus query of every Grafana dashboard panel, and of every query variable
   (deploy/grafana/dashboards, the variables substituted by scripts/dashboard_queries.py),
   returns data;
2. the drift alert (FeatureDrift) reaches the webhook for the shifted features only, and
   resolves once the traffic is unshifted again;
3. the error-rate alerts: the 5xx burst makes the availability SLO page
   (PredictionAvailabilityBudgetBurn, 1h/5m windows) reach the webhook, and resolve after
   the traffic turns healthy; HighErrorRate fires in Prometheus too and Alertmanager
   inhibits it while the page fires (deploy/alertmanager/alertmanager.yml says why), so the
   on-call person gets one notification for one problem.

Usage: scripts/stack_e2e.py [--keep] [--no-dashboards] [--target-dir DIR]
Needs prometheus, promtool, alertmanager (Debian: prometheus, prometheus-alertmanager) and
the debug builds of predictor and loadgen (built here with cargo when missing or stale).
Exits 0 when every check passes, 1 with the reason and the logs' tails otherwise.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIFT_WINDOW = "30s"  # the predictor's drift window: the drift alert resolves within it
SHIFTED = {"petal_length", "petal_width"}  # loadgen's default --shift-features
STARTED = time.monotonic()


def log(message):
    print(f"[stack-e2e {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url, data=None, timeout=5):
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(what, check, deadline_s, interval_s=1.0):
    """Polls `check` until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, urllib.error.URLError) as error:
            last_error = error
        time.sleep(interval_s)
    detail = f" (last error: {last_error})" if last_error else ""
    raise Failure(f"{what}: not within {deadline_s:.0f} s{detail}")


class Webhook:
    """Alertmanager's webhook receiver: keeps every alert of every notification."""

    def __init__(self):
        self.events = []  # (seconds since start, status, labels)
        self.lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                    alerts = payload.get("alerts", [])
                except ValueError:
                    alerts = []
                with webhook.lock:
                    for alert in alerts:
                        webhook.events.append(
                            (time.monotonic() - STARTED, alert.get("status"), alert.get("labels", {}))
                        )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def matching(self, status, **labels):
        with self.lock:
            return [
                event
                for event in self.events
                if event[1] == status and all(event[2].get(k) == v for k, v in labels.items())
            ]

    def last_status(self, alertname, identity):
        """The status of the latest notification of each alert instance of that name, keyed
        by the values of the `identity` labels."""
        latest = {}
        with self.lock:
            for _, status, labels in self.events:
                if labels.get("alertname") == alertname:
                    latest[tuple(labels.get(key) for key in identity)] = status
        return latest

    def summary(self):
        with self.lock:
            return [
                f"{at:6.1f}s {status:8} {labels.get('alertname')} "
                + ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname",))
                for at, status, labels in self.events
            ]


class Processes:
    """Children with their logs in the work directory; all stopped at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = {}

    def start(self, name, argv, env=None):
        path = os.path.join(self.workdir, f"{name}.log")
        out = open(path, "wb")
        child = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.children[name] = (child, path)
        return child

    def check_alive(self):
        for name, (child, path) in self.children.items():
            if name.startswith("loadgen"):
                continue
            if child.poll() is not None:
                raise Failure(f"{name} exited with {child.returncode}; see {path}")

    def stop_all(self):
        for child, _ in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child, _ in self.children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    def tails(self, lines=25):
        for name, (_, path) in self.children.items():
            try:
                with open(path, "rb") as log_file:
                    text = log_file.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            print(f"----- {name} ({path}), last {lines} lines -----")
            for line in text[-lines:]:
                print("  " + line[:300])


def binary(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise Failure(f"none of {', '.join(names)} is installed (Debian: apt-get install prometheus prometheus-alertmanager)")


class Prometheus:
    def __init__(self, address):
        self.base = f"http://{address}"

    def query(self, expr):
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            answer = http_json(url)
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            raise Failure(f"Prometheus refused {expr!r}: {error.code} {body}") from None
        if answer.get("status") != "success":
            raise Failure(f"Prometheus: {answer}")
        return answer["data"]["result"]

    def alert_state(self, name):
        """`firing`, `pending` or None for the alert of that name."""
        states = {series["metric"].get("alertstate") for series in self.query(f'ALERTS{{alertname="{name}"}}')}
        return "firing" if "firing" in states else ("pending" if states else None)


def dashboard_queries():
    """Every panel query of every dashboard, variables substituted."""
    dashboards = sorted(
        os.path.join(ROOT, "deploy/grafana/dashboards", name)
        for name in os.listdir(os.path.join(ROOT, "deploy/grafana/dashboards"))
        if name.endswith(".json")
    )
    if not dashboards:
        raise Failure("no dashboards in deploy/grafana/dashboards")
    output = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts/dashboard_queries.py"), *dashboards],
        check=True, capture_output=True, text=True,
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def run(args, workdir, procs, webhook):
    target = args.target_dir or os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    log("building predictor and loadgen (debug)")
    subprocess.run(["cargo", "build", "-q", "-p", "predictor", "-p", "loadgen"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    predictor_bin = os.path.join(target, "debug", "predictor")
    loadgen_bin = os.path.join(target, "debug", "loadgen")
    prometheus_bin = binary("prometheus")
    alertmanager_bin = binary("alertmanager", "prometheus-alertmanager")

    predictor_addr = f"127.0.0.1:{free_port()}"
    prometheus_addr = f"127.0.0.1:{free_port()}"
    alertmanager_addr = f"127.0.0.1:{free_port()}"
    config_dir = os.path.join(workdir, "config")
    subprocess.run(
        [os.path.join(ROOT, "deploy/prometheus/render-local.sh"), config_dir],
        check=True, stdout=subprocess.DEVNULL,
        env={
            **os.environ,
            "PREDICTOR_ADDR": predictor_addr,
            "PROMETHEUS_ADDR": prometheus_addr,
            "ALERTMANAGER_ADDR": alertmanager_addr,
            "COLLECTOR_ADDR": f"127.0.0.1:{free_port()}",  # no collector here: that target is down
            "WEBHOOK_URL": f"http://127.0.0.1:{webhook.port}/alerts",
            "SCRAPE_INTERVAL": "2s",
            "FAST_FOR": "4s",
        },
    )

    log(f"starting predictor on {predictor_addr} (drift window {DRIFT_WINDOW})")
    host, port = predictor_addr.split(":")
    procs.start("predictor", [
        predictor_bin, "--host", host, "--port", port, "--allow-debug-headers",
        "--drift-window", DRIFT_WINDOW,
    ], env={"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    procs.start("alertmanager", [
        alertmanager_bin, f"--config.file={config_dir}/alertmanager.yml",
        f"--storage.path={workdir}/alertmanager", f"--web.listen-address={alertmanager_addr}",
        "--cluster.listen-address=",
    ])
    procs.start("prometheus", [
        prometheus_bin, f"--config.file={config_dir}/prometheus.yml",
        f"--storage.tsdb.path={workdir}/prometheus", f"--web.listen-address={prometheus_addr}",
    ])
    prometheus = Prometheus(prometheus_addr)

    def ready(url):
        procs.check_alive()
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200

    wait_for("the predictor ready", lambda: ready(f"http://{predictor_addr}/health/ready"), 60, 0.2)
    wait_for("Alertmanager ready", lambda: ready(f"http://{alertmanager_addr}/-/ready"), 30, 0.2)
    wait_for("Prometheus ready", lambda: ready(f"http://{prometheus_addr}/-/ready"), 30, 0.2)
    wait_for("Prometheus scraping the predictor (up == 1)",
             lambda: prometheus.query('up{job="predictor"} == 1'), 30, 0.5)
    log("all up; phase 1: every scenario at once (drift, a 5xx burst, bad requests, slow requests, A/B)")

    url = f"http://{predictor_addr}"

    def loadgen(scenario, *flags):
        return procs.start(f"loadgen-{scenario}", [loadgen_bin, "--url", url, "--scenario", scenario, *flags])

    phase1 = [
        loadgen("drift", "--rate", "60", "--duration", "45", "--concurrency", "4"),
        loadgen("faults", "--rate", "20", "--duration", "10", "--fault-share", "0.5"),
        loadgen("errors", "--rate", "8", "--duration", "45"),
        loadgen("spike", "--rate", "8", "--duration", "45", "--delay-share", "0.25", "--concurrency", "4"),
        loadgen("ab", "--rate", "20", "--duration", "45"),
    ]

    def firing(alertname, **labels):
        procs.check_alive()
        return webhook.matching("firing", alertname=alertname, **labels)

    drift_firing = wait_for("FeatureDrift at the webhook", lambda: firing("FeatureDrift"), 120)
    log(f"FeatureDrift notified for {sorted({e[2].get('ml_feature_name') for e in drift_firing})}")
    page = wait_for("PredictionAvailabilityBudgetBurn (1h/5m) at the webhook",
                    lambda: firing("PredictionAvailabilityBudgetBurn", long_window="1h"), 90)
    log(f"PredictionAvailabilityBudgetBurn page notified at {page[0][0]:.1f}s")
    wait_for("HighErrorRate firing in Prometheus",
             lambda: prometheus.alert_state("HighErrorRate") == "firing", 60)

    def inhibited():
        alerts = http_json(f"http://{alertmanager_addr}/api/v2/alerts?"
                           + urllib.parse.urlencode({"filter": 'alertname="HighErrorRate"'}))
        return alerts and all(alert["status"]["inhibitedBy"] for alert in alerts)

    wait_for("Alertmanager inhibiting HighErrorRate under the page", inhibited, 30)
    log("HighErrorRate fires in Prometheus and is inhibited by the page in Alertmanager")

    queries = [] if args.no_dashboards else dashboard_queries()
    log(f"checking the {len(queries)} dashboard queries return data")
    empty = []

    def all_have_data():
        empty.clear()
        for query in queries:
            if not prometheus.query(query["expr"]):
                empty.append(query)
        return not empty

    try:
        wait_for("every dashboard query returning data", all_have_data, 60, 3)
    except Failure:
        for query in empty:
            print(f"  no data: {query['dashboard']} / {query['panel']} [{query.get('ref')}]: {query['expr']}")
        raise
    log(f"all {len(queries)} dashboard queries return data")

    for child in phase1:
        child.wait(timeout=120)
    log("phase 2: healthy, unshifted traffic until both alerts resolve")
    healthy = loadgen("steady", "--rate", "150", "--duration", "240", "--concurrency", "4")

    def all_resolved(alertname, *identity):
        procs.check_alive()
        latest = webhook.last_status(alertname, identity)
        return latest and all(status == "resolved" for status in latest.values())

    wait_for("every FeatureDrift alert resolved at the webhook",
             lambda: all_resolved("FeatureDrift", "ml_feature_name", "ml_model_version"), 150)
    log("FeatureDrift resolved")
    wait_for("PredictionAvailabilityBudgetBurn (1h/5m) resolved at the webhook",
             lambda: webhook.last_status("PredictionAvailabilityBudgetBurn", ["long_window"]).get(("1h",))
             == "resolved", 180)
    log("PredictionAvailabilityBudgetBurn page resolved")
    healthy.terminate()

    drifted = {event[2].get("ml_feature_name") for event in webhook.matching("firing", alertname="FeatureDrift")}
    if not drifted <= SHIFTED or not drifted:
        raise Failure(f"FeatureDrift fired for {sorted(drifted)}; only {sorted(SHIFTED)} were shifted")
    log(f"drift alerted only for shifted features: {sorted(drifted)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    parser.add_argument("--no-dashboards", action="store_true",
                        help="skip the dashboard queries (when working on the alerts alone)")
    parser.add_argument("--target-dir", help="cargo target directory [CARGO_TARGET_DIR or ./target]")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="mlotel-stack-e2e-")
    procs = Processes(workdir)
    webhook = Webhook()
    ok = False
    try:
        run(args, workdir, procs, webhook)
        ok = True
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"stack-e2e: FAILED: {error}", file=sys.stderr)
    finally:
        procs.stop_all()
        print("webhook notifications:")
        for line in webhook.summary():
            print("  " + line)
        if not ok:
            procs.tails()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    log("passed" if ok else "failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
