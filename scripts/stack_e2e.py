#!/usr/bin/env python3
"""The observability stack end to end, on this machine, with real parts.

Starts the compose topology on loopback with the programs at deploy/versions.env's versions
(scripts/stack-binaries.sh builds or reuses them) and the configuration files compose
mounts, only their listen addresses rewritten (`--set`): the demo predictor sending its
traces over OTLP to our Collector (deploy/otel-collector/config.yaml), which sends them
to Jaeger v2 (deploy/jaeger/config.yaml); Prometheus 3 scraping the predictor and the
Collector with the repository's rules (deploy/prometheus/rules, `for:` shortened by
render-local.sh); Alertmanager with the repository's routing and inhibition
(deploy/alertmanager), and a webhook receiver (in this process). Checks first, through
Jaeger's query API, the traces of a few requests sent with a caller's traceparent:

0. traces of the predictor are found by service and by operation `predict iris`; the
   prediction span is a child of the HTTP server span of the caller's trace, which
   continues the caller's span; it has ml.model.name and ml.model.version; a failed
   prediction's span has error status; every Jaeger link of the dashboards, its variables
   filled in as Grafana would, finds those traces (a 4xx one included);
0b. the scale-out tier of docs/operations.md: the agent config (loadbalancing by trace id)
   in front of two gateways with the tail-sampling config: every span at a gateway, whole
   traces only in Jaeger, every error trace kept, the healthy share near the baseline.

Then it runs the load generator's scenarios against the predictor and checks, polling with
deadlines (1-4 below), and last the OTLP metrics path: a second predictor pushing its
metrics to the Collector, scraped from its prometheus exporter (check_otlp_metrics):

1. every Prometheus query of every Grafana dashboard panel, and of every query variable
   (deploy/grafana/dashboards, the variables substituted by scripts/dashboard_queries.py),
   returns data (the chat scenario feeds the Generative dashboard: its server side from the
   predictor, its client side from loadgen's own metrics, pushed over OTLP to the
   Collector as job loadgen);
2. the drift alert (FeatureDrift) reaches the webhook for the shifted features only, and
   resolves once the traffic is unshifted again;
3. the error-rate alerts: the 5xx burst makes the availability SLO page
   (PredictionAvailabilityBudgetBurn, 1h/5m windows) reach the webhook, and resolve after
   the traffic turns healthy; HighErrorRate fires in Prometheus too and Alertmanager
   inhibits it while the page fires (deploy/alertmanager/alertmanager.yml says why), so the
   on-call person gets one notification for one problem;
4. the realised-accuracy alert: the load generator's degrade scenario sends feedback whose
   truth makes the realised accuracy fall, and ModelAccuracyDrop reaches the webhook;
   feedback for an unknown prediction id is answered 404 and counted.

Usage: scripts/stack_e2e.py [--keep] [--no-dashboards] [--target-dir DIR]
Needs what scripts/stack-binaries.sh needs (Go and the module proxy the first time) and
the debug builds of predictor and loadgen (built here with cargo when missing or stale).
Exits 0 when every check passes, 1 with the reason and the logs' tails otherwise.
"""

import argparse
import json
import os
import re
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


HANDED_OUT = set()


def free_port():
    """A port free now and not handed out before: the kernel may give a just-closed port
    again, and two programs told the same port fail to start (seen: a gateway's OTLP
    receiver and its health check)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in HANDED_OUT:
            HANDED_OUT.add(port)
            return port


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


def stack_binaries():
    """The directory of the pinned jaeger, otelcol, prometheus, alertmanager builds."""
    result = subprocess.run([os.path.join(ROOT, "scripts/stack-binaries.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        raise Failure(f"scripts/stack-binaries.sh failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()


def collector_argv(program, config, overrides):
    """A Collector-based program (otelcol, jaeger) on a compose config, its addresses
    rewritten by --set (values are YAML)."""
    return [program, f"--config={os.path.join(ROOT, config)}",
            *(f"--set={key}={value}" for key, value in overrides.items())]


def pull_reader(port):
    """The collectors' own metrics (service.telemetry) on 127.0.0.1:port."""
    return "[{pull: {exporter: {prometheus: {host: 127.0.0.1, port: %d}}}}]" % port


class Jaeger:
    """Jaeger's query API (the one its UI uses)."""

    def __init__(self, address):
        self.base = f"http://{address}"

    def trace(self, trace_id):
        try:
            data = http_json(f"{self.base}/api/traces/{trace_id}").get("data") or []
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
        return data[0] if data else None

    def search(self, query):
        """Trace ids found by an /api/traces query string (the UI's /search parameters)."""
        answer = http_json(f"{self.base}/api/traces?{query}")
        return {trace["traceID"] for trace in answer.get("data") or []}


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

    def exemplars(self, expr, since_s=900):
        """The series of `expr` that have exemplars in the last `since_s` seconds."""
        now = time.time()
        url = f"{self.base}/api/v1/query_exemplars?" + urllib.parse.urlencode(
            {"query": expr, "start": f"{now - since_s:.3f}", "end": f"{now:.3f}"})
        answer = http_json(url)
        if answer.get("status") != "success":
            raise Failure(f"Prometheus exemplars: {answer}")
        return [series for series in answer["data"] or [] if series.get("exemplars")]

    def alert_state(self, name):
        """`firing`, `pending` or None for the alert of that name."""
        states = {series["metric"].get("alertstate") for series in self.query(f'ALERTS{{alertname="{name}"}}')}
        return "firing" if "firing" in states else ("pending" if states else None)


def dashboard_queries(variables=()):
    """Every panel query of every dashboard, variables substituted (--var overrides)."""
    dashboards = sorted(
        os.path.join(ROOT, "deploy/grafana/dashboards", name)
        for name in os.listdir(os.path.join(ROOT, "deploy/grafana/dashboards"))
        if name.endswith(".json")
    )
    if not dashboards:
        raise Failure("no dashboards in deploy/grafana/dashboards")
    output = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts/dashboard_queries.py"), *variables, *dashboards],
        check=True, capture_output=True, text=True,
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


# What Prometheus 3 sends by default: OpenMetrics first.
OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.6,"
                      "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
PARSE_OPENMETRICS = """
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
print(json.dumps({"families": len(families),
                  "samples": sum(len(f.samples) for f in families),
                  "exemplars": sorted({s.name for f in families for s in f.samples if s.exemplar})}))
"""


def check_openmetrics_parses(predictor_url):
    """The predictor's OpenMetrics exposition, every family of it, through the
    prometheus_client parser (MLOTEL_OPENMETRICS_PYTHON: a Python that has it)."""
    request = urllib.request.Request(predictor_url + "/metrics", headers={"Accept": OPENMETRICS_ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read()
    if not content_type.startswith("application/openmetrics-text"):
        raise Failure(f"/metrics answered {content_type!r} to an OpenMetrics Accept header")
    python = os.environ.get("MLOTEL_OPENMETRICS_PYTHON")
    if not python:
        raise Failure("MLOTEL_OPENMETRICS_PYTHON is not set: a Python with prometheus-client "
                      "(pip install -r scripts/requirements-openmetrics.txt); scripts/test.sh sets it")
    parsed = subprocess.run([python, "-c", PARSE_OPENMETRICS], input=text, capture_output=True, check=False)
    if parsed.returncode != 0:
        raise Failure(f"prometheus_client refused the OpenMetrics exposition: {parsed.stderr.decode()[-2000:]}")
    summary = json.loads(parsed.stdout)
    wanted = {"ml_prediction_duration_seconds_bucket", "ml_prediction_confidence_ratio_bucket",
              "http_server_request_duration_seconds_bucket"}
    if not wanted <= set(summary["exemplars"]):
        raise Failure(f"exemplars on {summary['exemplars']}; want them on {sorted(wanted)}")
    log(f"OpenMetrics exposition parsed by prometheus_client: {summary['families']} families, "
        f"{summary['samples']} samples, exemplars on {', '.join(summary['exemplars'])}")


def check_exemplars(prometheus, jaeger, queries):
    """The dashboards' exemplar queries get exemplars from Prometheus (which scraped them
    as OpenMetrics into its exemplar storage); each exemplar's span is in Jaeger."""
    exemplar_queries = [query for query in queries if query.get("exemplar")]
    if len(exemplar_queries) < 3:
        raise Failure(f"{len(exemplar_queries)} dashboard queries draw exemplars; want latency by "
                      "route, prediction latency and the confidence heatmap")
    spans = set()
    for query in exemplar_queries:
        found = wait_for(f"exemplars for {query['dashboard']} / {query['panel']}",
                         lambda: prometheus.exemplars(query["expr"]), 60, 2)
        exemplars = [exemplar for series in found for exemplar in series["exemplars"]]
        spans |= {(e["labels"]["trace_id"], e["labels"]["span_id"]) for e in exemplars}
        log(f"{query['panel']}: {len(exemplars)} exemplars")

    # Every exemplar's trace, with the exemplar's span in it. Spans still in the SDK's or
    # the Collector's batches arrive within seconds: one deadline for all of them.
    missing = set(spans)
    traces = {}

    def all_in_jaeger():
        for trace_id, span_id in sorted(missing):
            if trace_id not in traces or span_id not in traces[trace_id]:
                trace = jaeger.trace(trace_id)
                traces[trace_id] = {span["spanID"] for span in trace["spans"]} if trace else set()
            if span_id in traces[trace_id]:
                missing.discard((trace_id, span_id))
        return not missing

    try:
        wait_for(f"the {len(spans)} exemplar spans in Jaeger", all_in_jaeger, 90, 2)
    except Failure:
        raise Failure(f"{len(missing)} of {len(spans)} exemplar spans never reached Jaeger, e.g. "
                      f"{sorted(missing)[:3]}") from None
    log(f"every one of the {len(spans)} exemplars' spans is in Jaeger "
        f"({len({trace_id for trace_id, _ in spans})} traces)")


def post(url, body, headers):
    """(status, response headers) of a JSON POST; 4xx and 5xx included."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def tags_of(span):
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def parent_of(span):
    for reference in span.get("references", []):
        if reference.get("refType") == "CHILD_OF":
            return reference["spanID"]
    return None


def fill_link(url, values):
    """A dashboard link's URL with its variables replaced as Grafana does (:percentencode
    percent-encodes the value)."""
    def replace(match):
        name, _, fmt = match.group(1).partition(":")
        if name not in values:
            raise Failure(f"dashboard link {url}: no value for ${{{name}}} in this test")
        value = str(values[name])
        return urllib.parse.quote(value, safe="") if fmt == "percentencode" else value
    return re.sub(r"\$\{([^}]+)\}", replace, url)


def dashboard_jaeger_links():
    """(dashboard, panel title, link title, url) of every link to ${jaeger_url}."""
    found = []
    directory = os.path.join(ROOT, "deploy/grafana/dashboards")
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            dashboard = json.load(f)
        for panel in dashboard.get("panels", []):
            links = list(panel.get("links") or [])
            links += ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("links") or []
            for link in links:
                if link.get("url", "").startswith("${jaeger_url}/search?"):
                    found.append((name, panel.get("title"), link.get("title"), link["url"]))
    return found


def check_traces(predictor_url, jaeger, procs):
    """Requests with a caller's sampled traceparent, then their traces through Jaeger."""
    started_ms = int(time.time() * 1000) - 60_000
    row = {"features": [6.0, 2.9, 4.5, 1.5]}

    def traced(path, body, **headers):
        trace_id, parent = os.urandom(16).hex(), os.urandom(8).hex()
        status, _ = post(predictor_url + path, body, {"traceparent": f"00-{trace_id}-{parent}-01", **headers})
        return trace_id, parent, status

    good = traced("/v2/predict", row)
    failed = traced("/v2/predict", row, **{"X-Debug-Fail": "true"})
    bad = traced("/v2/predict", {"instances": [[1.0, 2.0, 3.0]]})
    if (good[2], failed[2], bad[2]) != (200, 500, 400):
        raise Failure(f"predictor answered {good[2]}, {failed[2]}, {bad[2]}; want 200, 500, 400")
    log("three traced requests sent (200, 500 model_failure, 400 invalid_features); waiting for Jaeger")

    def whole(trace_id, operations):
        procs.check_alive()
        trace = jaeger.trace(trace_id)
        names = {span["operationName"] for span in (trace or {}).get("spans", [])}
        return trace if trace and operations <= names else None

    traces = {}
    for label, (trace_id, parent, _), operations in (("good", good, {"predict iris"}),
                                                      ("failed", failed, {"predict iris"}),
                                                      ("bad", bad, set())):
        traces[label] = wait_for(f"the {label} request's trace {trace_id} in Jaeger",
                                 lambda t=trace_id, o=operations: whole(t, o), 60, 0.5)
        spans = traces[label]["spans"]
        servers = [span for span in spans if tags_of(span).get("span.kind") == "server"]
        if len(servers) != 1:
            raise Failure(f"{label} trace: {len(servers)} server spans, want 1: {[s['operationName'] for s in spans]}")
        server = servers[0]
        if parent_of(server) != parent:
            raise Failure(f"{label} trace: the server span's parent is {parent_of(server)}, not the caller's {parent}")
        if label == "bad":
            continue
        predict = next(span for span in spans if span["operationName"] == "predict iris")
        if parent_of(predict) != server["spanID"]:
            raise Failure(f"{label} trace: 'predict iris' is a child of {parent_of(predict)}, not of the server span {server['spanID']}")
        tags = tags_of(predict)
        if tags.get("ml.model.name") != "iris" or tags.get("ml.model.version") != "2.0.0":
            raise Failure(f"{label} trace: 'predict iris' has ml.model.name={tags.get('ml.model.name')!r}, "
                          f"ml.model.version={tags.get('ml.model.version')!r}")
        is_error = tags.get("error") is True or tags.get("otel.status_code") == "ERROR"
        if is_error != (label == "failed"):
            raise Failure(f"{label} trace: 'predict iris' error status is {is_error}: {tags}")
    server_span = next(s for s in traces["good"]["spans"] if tags_of(s).get("span.kind") == "server")
    log(f"traces ok: caller's trace continued, 'predict iris' child of '{server_span['operationName']}', "
        "model attributes set, the failed prediction has error status")

    window = {"start": started_ms * 1000, "end": (int(time.time() * 1000) + 60_000) * 1000, "limit": 100}
    for query, want in (({"service": "predictor"}, good[0]),
                        ({"service": "predictor", "operation": "predict iris"}, good[0])):
        found = jaeger.search(urllib.parse.urlencode({**query, **window}))
        if want not in found:
            raise Failure(f"Jaeger search {query}: {len(found)} traces, not {want}")
    log("found by service and by operation 'predict iris'")

    # Every Jaeger link of the dashboards, as Grafana fills it in. A series link gets the
    # labels of the series it is on: the 400's for the route/status and error.type links
    # (a 4xx keeps an unset status), version 2.0.0 for the version links.
    values = {"jaeger_url": jaeger.base, "service": "predictor", "model": "iris",
              "__from": started_ms, "__to": int(time.time() * 1000) + 60_000,
              "__field.labels.ml_model_version": "2.0.0", "__data.fields.version": "2.0.0",
              "__field.labels.http_route": "/v2/predict", "__field.labels.http_response_status_code": "400",
              "__field.labels.error_type": "invalid_features"}
    links = dashboard_jaeger_links()
    if not links:
        raise Failure("no Jaeger links in the dashboards")
    for dashboard, panel, title, url in links:
        filled = fill_link(url, values)
        query = filled.split("/search?", 1)[1]
        found = jaeger.search(query)
        tags = json.loads(urllib.parse.parse_qs(query).get("tags", ["{}"])[0])
        want = good[0]
        if tags.get("http.response.status_code") == "500" or tags.get("ml.prediction.outcome") == "error":
            want = failed[0]
        elif "http.response.status_code" in tags or "error.type" in tags:
            want = bad[0]
        if want not in found:
            raise Failure(f"{dashboard} / {panel} / link {title!r}: {filled} finds {len(found)} traces, not {want}")
    log(f"all {len(links)} Jaeger links of the dashboards find their traces")
    return {"good": good[0], "failed": failed[0], "bad": bad[0]}


class VictoriaLogs:
    """VictoriaLogs' LogsQL API (the one Grafana's data source and its own UI use)."""

    def __init__(self, address):
        self.base = f"http://{address}"

    def _post(self, path, params):
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            raise Failure(f"VictoriaLogs refused {params.get('query')!r}: {error.code} {body}") from None

    def query(self, logsql, since_s=3600):
        """The log lines (or `| stats` rows) of a LogsQL query over the last since_s seconds."""
        text = self._post("/select/logsql/query", {"query": logsql, "start": f"{since_s}s"})
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stats_range(self, logsql, since_s=3600, step="15s"):
        """The series of a `| stats` query per step (Grafana's statsRange)."""
        answer = json.loads(self._post("/select/logsql/stats_query_range",
                                       {"query": logsql, "start": f"{since_s}s", "step": step}))
        return answer.get("data", {}).get("result", [])


def logsql_of_runbooks():
    """{alert: the first ```logsql block of docs/runbooks/<alert>.md} (every page has one)."""
    found = {}
    directory = os.path.join(ROOT, "docs/runbooks")
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".md") or name == "README.md":
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as page:
            match = re.search(r"^```logsql\n(.*?)^```", page.read(), re.M | re.S)
        if not match:
            raise Failure(f"docs/runbooks/{name}: no ```logsql block (each runbook has its first log query)")
        found[name[:-3]] = " ".join(line.strip() for line in match.group(1).strip().splitlines())
    return found


def check_logs(logs, traced):
    """The predictor's OTLP logs through the Collector in VictoriaLogs: the failed request
    found by its trace id and by error.type, with the model and no feature value; the
    successful and the 4xx one logged nothing; the links from a trace to its lines (Jaeger
    UI's linkPatterns, Grafana's tracesToLogs) find them."""
    failed = traced["failed"]
    lines = wait_for(f"the failed request's log line (trace {failed}) in VictoriaLogs",
                     lambda: logs.query(f'trace_id:="{failed}"'), 60, 0.5)
    if len(lines) != 1:
        raise Failure(f"trace {failed}: {len(lines)} log lines, want 1: {lines}")
    line = lines[0]
    want = {"error.type": "model_failure", "ml.model.name": "iris", "ml.model.version": "2.0.0",
            "severity_text": "ERROR", "service.name": "predictor"}
    got = {key: line.get(key) for key in want}
    if got != want:
        raise Failure(f"the failed request's log line has {got}, want {want}: {line}")
    # The values as numbers of their own: a bare substring test once matched "2.9" inside
    # the line's own time ("…:42.930…Z") and failed a correct line.
    feature_value = re.compile(r"(?<![\d.])(?:6\.0|2\.9|4\.5|1\.5)(?![\d])")
    if feature_value.search(json.dumps(line)):
        raise Failure(f"a feature value in the failed request's log line: {line}")
    by_type = logs.query('service.name:="predictor" error.type:=model_failure | fields trace_id')
    if failed not in {row.get("trace_id") for row in by_type}:
        raise Failure(f"error.type:=model_failure finds {by_type}, not trace {failed}")
    for label in ("good", "bad"):
        quiet = logs.query(f'trace_id:="{traced[label]}"')
        if quiet:
            raise Failure(f"the {label} request logged {len(quiet)} lines (none by default): {quiet}")
    # From a trace to its lines: Jaeger's UI link (deploy/jaeger/ui-config.json) and
    # Grafana's Jaeger data source (tracesToLogsV2), their trace id filled in.
    with open(os.path.join(ROOT, "deploy/jaeger/ui-config.json"), encoding="utf-8") as f:
        patterns = [p for p in json.load(f)["linkPatterns"] if p["type"] == "traces"]
    with open(os.path.join(ROOT, "deploy/grafana/provisioning/datasources/datasources.yml"), encoding="utf-8") as f:
        grafana = re.search(r"^\s*query: '(.*trace.*)'$", f.read(), re.M).group(1)
    queries = [urllib.parse.parse_qs(p["url"].replace("#{traceID}", failed).split("#/?", 1)[1])["query"][0]
               for p in patterns]
    queries.append(grafana.replace("$${__trace.traceId}", failed))
    for query in queries:
        if [row.get("trace_id") for row in logs.query(query)] != [failed]:
            raise Failure(f"the trace-to-logs link's query {query!r} does not find the failed request's line")
    log(f"logs ok: the failed request's line found by trace id and by error.type, with model and version; "
        f"none for the 200 and the 400; {len(queries)} trace-to-logs links find it")


def check_log_queries(logs, what, queries):
    """Each (name, LogsQL[, query type]) returns data: rows, or series for statsRange."""
    empty = []

    def all_have_data():
        empty.clear()
        for name, logsql, query_type in queries:
            rows = logs.stats_range(logsql) if query_type == "statsRange" else logs.query(logsql)
            if not rows:
                empty.append((name, logsql))
        return not empty
    try:
        wait_for(f"every {what} returning data", all_have_data, 60, 2)
    except Failure:
        for name, logsql in empty:
            print(f"  no data: {name}: {logsql}")
        raise
    log(f"all {len(queries)} {what} return data")


def collector_outage(procs, otelcol_argv, predictor_url, workdir):
    """The Collector stops for 4 s under traffic: the predictor answers on time, and the
    lines of the predictions that failed meanwhile are on its stdout (their OTLP records
    are lost with the batch the SDK could not export; stdout is the copy that is never
    lost). Then the Collector comes back with the same config."""
    child, _ = procs.children["otelcol"]
    os.killpg(child.pid, signal.SIGTERM)
    child.wait(timeout=15)
    row = {"features": [6.0, 2.9, 4.5, 1.5]}
    slowest, failed, sent = 0.0, [], 0
    outage_end = time.monotonic() + 4
    while time.monotonic() < outage_end:
        trace_id = os.urandom(16).hex()
        fail = sent % 5 == 0
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
        if fail:
            headers["X-Debug-Fail"] = "true"
            failed.append(trace_id)
        asked = time.monotonic()
        status, _ = post(predictor_url + "/v2/predict", row, headers)
        slowest = max(slowest, time.monotonic() - asked)
        sent += 1
        if status != (500 if fail else 200):
            raise Failure(f"the predictor answered {status} while the Collector was down")
        time.sleep(0.05)
    if slowest > 1.0:
        raise Failure(f"a request took {slowest:.2f} s while the Collector was down")

    def on_stdout():
        with open(os.path.join(workdir, "predictor.log"), encoding="utf-8", errors="replace") as f:
            text = f.read()
        return all(trace_id in text for trace_id in failed)
    wait_for("the lines of the predictions that failed during the outage on stdout", on_stdout, 10, 0.2)
    procs.start("otelcol", otelcol_argv)
    log(f"Collector stopped for 4 s under traffic: {sent} requests answered (slowest {slowest * 1000:.0f} ms), "
        f"the {len(failed)} failures' lines on stdout; restarted")


# Their runbooks' log query finds the export-health lines of a Collector outage.
TELEMETRY_ALERTS = {"TelemetryExportFailing", "TelemetrySpansDropped"}
SCALE_OUT_TRACES = 400  # 3 spans each; a fifth of them with an error
SCALE_OUT_BASELINE = 0.10  # gateway-tail-sampling.yaml's probabilistic policy


def metric_total(url, name):
    """The sum of a counter's samples on a Prometheus /metrics page (name: a regex)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    pattern = re.compile(rf"^{name}(\{{.*\}})? ")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if pattern.match(line))


def otlp_json_spans(traces, index, errors):
    """An OTLP/HTTP JSON request with span number `index` of every trace (so that each
    request mixes traces and the agent must route span by span)."""
    now = time.time_ns()
    spans = []
    for trace_id, span_ids in traces.items():
        span = {"traceId": trace_id, "spanId": span_ids[index], "name": f"step {index}", "kind": 2 if index == 0 else 1,
                "startTimeUnixNano": str(now - 50_000_000), "endTimeUnixNano": str(now)}
        if index:
            span["parentSpanId"] = span_ids[0]
        if index == 2 and trace_id in errors:
            span["status"] = {"code": 2, "message": "failed on purpose"}
        spans.append(span)
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "scale-out-e2e"}}]},
                               "scopeSpans": [{"scope": {"name": "stack_e2e"}, "spans": spans}]}]}


def check_scale_out(bin_dir, workdir, procs, jaeger, jaeger_otlp_grpc):
    """docs/operations.md's scale-out tier: the agent config (loadbalancing by trace ID)
    in front of two gateways with the gateway config (tail_sampling) sending to Jaeger.
    The agent's DNS resolver becomes a static list of the two gateways (no DNS here), the
    gateways' decision_wait 2 s instead of 10 s; the rest is the example files."""
    gateways = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    telemetry = [free_port() for _ in range(2)]
    for number, (address, port) in enumerate(zip(gateways, telemetry)):
        procs.start(f"gateway{number}", collector_argv(os.path.join(bin_dir, "otelcol"),
                    "deploy/otel-collector/examples/gateway-tail-sampling.yaml", {
            "receivers.otlp.protocols.grpc.endpoint": address,
            "processors.tail_sampling.decision_wait": "2s",
            "processors.batch.timeout": "1s",
            "exporters.otlp/jaeger.endpoint": jaeger_otlp_grpc,
            "exporters.prometheusremotewrite.endpoint": f"http://127.0.0.1:{free_port()}/api/v1/push",
            "extensions.health_check.endpoint": f"127.0.0.1:{free_port()}",
            "service.telemetry.metrics.readers": pull_reader(port),
        }))
    with open(os.path.join(ROOT, "deploy/otel-collector/examples/agent-loadbalancing.yaml"), encoding="utf-8") as f:
        agent = f.read()
    agent, replaced = re.subn(r"(?ms)^    resolver:\n.*?(?=^  \S)",
                              "    resolver:\n      static:\n        hostnames: [%s]\n" % ", ".join(gateways), agent)
    if replaced != 1:
        raise Failure("agent-loadbalancing.yaml: no resolver block to replace with the two gateways")
    agent_config = os.path.join(workdir, "agent-loadbalancing.yaml")
    with open(agent_config, "w", encoding="utf-8") as f:
        f.write(agent)
    agent_http, agent_health = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    procs.start("agent", collector_argv(os.path.join(bin_dir, "otelcol"), agent_config, {
        "receivers.otlp.protocols.grpc.endpoint": f"127.0.0.1:{free_port()}",
        "receivers.otlp.protocols.http.endpoint": agent_http,
        "exporters.otlp/metrics-gateway.endpoint": gateways[0],
        "extensions.health_check.endpoint": agent_health,
        "service.telemetry.metrics.readers": pull_reader(free_port()),
    }))

    def healthy():
        procs.check_alive()
        with urllib.request.urlopen(f"http://{agent_health}/", timeout=2) as response:
            return response.status == 200
    wait_for("the agent collector healthy", healthy, 60, 0.2)

    started_us = int(time.time() * 1_000_000) - 60_000_000
    traces = {os.urandom(16).hex(): [os.urandom(8).hex() for _ in range(3)] for _ in range(SCALE_OUT_TRACES)}
    errors = set(list(traces)[: SCALE_OUT_TRACES // 5])
    for index in range(3):
        status, _ = post(f"http://{agent_http}/v1/traces", otlp_json_spans(traces, index, errors), {})
        if status != 200:
            raise Failure(f"the agent answered {status} to OTLP/HTTP spans")
    log(f"scale-out: {SCALE_OUT_TRACES} traces of 3 spans ({len(errors)} with an error) sent to the agent, one span of each per request")

    accepted_name = "otelcol_receiver_accepted_spans(_total)?"
    def all_received():
        procs.check_alive()
        counts = [metric_total(f"http://127.0.0.1:{port}/metrics", accepted_name) for port in telemetry]
        return counts if sum(counts) >= 3 * SCALE_OUT_TRACES else None
    try:
        counts = wait_for("every span at a gateway", all_received, 60, 0.5)
    except Failure:
        with urllib.request.urlopen(f"http://127.0.0.1:{telemetry[0]}/metrics", timeout=5) as response:
            page = [line for line in response.read().decode().splitlines() if "spans" in line and not line.startswith("#")]
        raise Failure(f"not every span reached a gateway within 60 s; gateway 0's span counters: {page[:12]}") from None
    if sum(counts) != 3 * SCALE_OUT_TRACES or min(counts) == 0:
        raise Failure(f"gateways received {counts} spans; want {3 * SCALE_OUT_TRACES} in all, some at each")

    window = urllib.parse.urlencode({"service": "scale-out-e2e", "start": started_us,
                                     "end": int(time.time() * 1_000_000) + 60_000_000, "limit": 10 * SCALE_OUT_TRACES})
    kept = {}
    def errors_kept():
        procs.check_alive()
        answer = http_json(f"{jaeger.base}/api/traces?{window}", timeout=20)
        kept.clear()
        kept.update({trace["traceID"]: len(trace["spans"]) for trace in answer.get("data") or []})
        return errors <= set(kept)
    try:
        wait_for("every error trace in Jaeger", errors_kept, 60, 1)
    except Failure:
        raise Failure(f"{len(errors & set(kept))} of {len(errors)} error traces reached Jaeger") from None
    # Whole traces only: a trace split between gateways would reach Jaeger in part (its
    # error span kept by one gateway, the rest sampled apart by the other).
    partial = {trace_id: spans for trace_id, spans in kept.items() if spans != 3}
    if partial:
        raise Failure(f"{len(partial)} traces reached Jaeger in part (spans per trace: {sorted(set(partial.values()))})")
    healthy_kept = len(set(kept) - errors) / (SCALE_OUT_TRACES - len(errors))
    # The probabilistic policy hashes the trace id: binomial, n = 320, p = 0.1, sd 1.7
    # points; 3 sd either side.
    sd = (SCALE_OUT_BASELINE * (1 - SCALE_OUT_BASELINE) / (SCALE_OUT_TRACES - len(errors))) ** 0.5
    if abs(healthy_kept - SCALE_OUT_BASELINE) > 3 * sd:
        raise Failure(f"healthy traces kept: {healthy_kept:.1%}, want {SCALE_OUT_BASELINE:.0%} +- {3 * sd:.1%}")
    log(f"scale-out: gateways got {counts[0]:.0f} + {counts[1]:.0f} spans, whole traces only; "
        f"{len(errors)}/{len(errors)} error traces kept, {healthy_kept:.1%} of healthy ones "
        f"(baseline {SCALE_OUT_BASELINE:.0%} +- {3 * sd:.1%})")


# Dashboard queries without data on the OTLP metrics path, and why (docs/operations.md).
# The test fails when one of them gets data too, so that this list stays true.
OTLP_PATH_GAPS = {
    "up{": "a pushing service has no scrape of its own, so no up series",
}


def loadgen_telemetry_env(otelcol_otlp_grpc):
    """loadgen's own telemetry (the chat scenario's GenAI client calls) over OTLP to the
    Collector, so that the Generative dashboard's client panels (job loadgen) have data."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{otelcol_otlp_grpc}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_METRIC_EXPORT_INTERVAL": "2000",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def refused_unknown_feedback(url):
    """Feedback for a prediction id no replica handed out: 404 unknown_prediction_id, and
    counted (ml_outcomes_unmatched_total{ml_outcome_unmatched_reason="unknown_id"})."""
    body = json.dumps({"feedback": [{"prediction_id": "00000000-1", "actual": "setosa"}]}).encode()
    request = urllib.request.Request(f"{url}/v1/models/iris/feedback", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raise Failure(f"feedback for an unknown id answered {response.status}, not 404")
    except urllib.error.HTTPError as error:
        if error.code != 404 or json.loads(error.read())["error"]["type"] != "unknown_prediction_id":
            raise Failure(f"feedback for an unknown id answered {error.code}, not 404 unknown_prediction_id")


def check_otlp_metrics(args, predictor_bin, loadgen_bin, procs, prometheus, predictor_addr, otelcol_otlp_grpc):
    """The OTLP metrics path as compose documents it: a second predictor pushes its metrics
    over OTLP to the Collector, whose prometheus exporter Prometheus scrapes (job
    otlp-metrics, honor_labels). Every dashboard query, with job and service set to its
    service.name, returns data but for OTLP_PATH_GAPS; and nothing is counted twice: the
    scraped predictor's series all come from its own scrape."""
    otlp_addr = f"127.0.0.1:{free_port()}"
    host, port = otlp_addr.split(":")
    procs.start("predictor-otlp", [predictor_bin, "--host", host, "--port", port, "--allow-debug-headers",
                                   "--drift-window", DRIFT_WINDOW],
                env={"OTEL_SERVICE_NAME": "predictor-otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                     "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{otelcol_otlp_grpc}",
                     "OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "2000",
                     "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})

    def ready():
        procs.check_alive()
        with urllib.request.urlopen(f"http://{otlp_addr}/health/ready", timeout=2) as response:
            return response.status == 200
    wait_for("the OTLP-pushing predictor ready", ready, 60, 0.2)
    url = f"http://{otlp_addr}"
    load = [procs.start(f"loadgen-otlp-{scenario}", [loadgen_bin, "--url", url, "--scenario", scenario, *flags],
                        env=loadgen_telemetry_env(otelcol_otlp_grpc) if scenario == "chat" else None)
            for scenario, flags in (("drift", ["--rate", "30", "--duration", "30", "--concurrency", "2"]),
                                    ("faults", ["--rate", "10", "--duration", "30", "--fault-share", "0.3"]),
                                    ("errors", ["--rate", "5", "--duration", "30"]),
                                    ("spike", ["--rate", "5", "--duration", "30", "--delay-share", "0.25"]),
                                    ("ab", ["--rate", "10", "--duration", "30"]),
                                    ("chat", ["--rate", "3", "--duration", "30", "--concurrency", "4"]),
                                    ("degrade", ["--rate", "5", "--duration", "30", "--feedback-delay", "1"]))]
    refused_unknown_feedback(url)
    log("OTLP metrics path: a second predictor (service predictor-otlp) pushes its metrics to the Collector")
    queries = dashboard_queries(["--var", "job=predictor-otlp", "--var", "service=predictor-otlp"])
    empty = []

    def has_data():
        empty.clear()
        for query in queries:
            if not prometheus.query(query["expr"]):
                empty.append(query)
        unexplained = [q for q in empty if not any(gap in q["expr"] for gap in OTLP_PATH_GAPS)]
        return not unexplained
    try:
        wait_for("every dashboard query but the known gaps returning data on the OTLP path", has_data, 90, 3)
    except Failure:
        for query in empty:
            print(f"  no data: {query['dashboard']} / {query['panel']} [{query.get('ref')}]: {query['expr']}")
        raise
    for gap, why in OTLP_PATH_GAPS.items():
        if not any(gap in q["expr"] for q in empty):
            raise Failure(f"the OTLP path now has data for the queries on {gap!r} ({why}): update OTLP_PATH_GAPS and docs/operations.md")
    for child in load:
        child.wait(timeout=60)
    # The same metric and label names as on the scrape path, job and instance aside.
    scraped = prometheus.query('http_server_request_duration_seconds_count{job="predictor"}')
    pushed = prometheus.query('http_server_request_duration_seconds_count{job="predictor-otlp"}')
    names = lambda series: {key for s in series for key in s["metric"] if key not in ("job", "instance")}
    if not pushed or names(scraped) != names(pushed):
        raise Failure(f"label names differ: scraped {sorted(names(scraped))}, pushed {sorted(names(pushed))}")
    # Nothing counted twice: each service by one path only.
    doubled = [s["metric"] for s in prometheus.query('count by (job, instance) (http_server_request_duration_seconds_count{job=~"predictor|predictor-otlp"})')
               if (s["metric"]["job"] == "predictor") != (s["metric"]["instance"] == predictor_addr)]
    if doubled:
        raise Failure(f"series of the scraped predictor arrived by another path too: {doubled}")
    log(f"OTLP metrics path: {len(queries) - len(empty)} of {len(queries)} dashboard queries return data "
        f"({len(empty)} known gaps: {', '.join(OTLP_PATH_GAPS)}); same label names; nothing counted twice")


def run(args, workdir, procs, webhook):
    target = args.target_dir or os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    log("building predictor and loadgen (debug)")
    subprocess.run(["cargo", "build", "-q", "-p", "predictor", "-p", "loadgen"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    predictor_bin = os.path.join(target, "debug", "predictor")
    loadgen_bin = os.path.join(target, "debug", "loadgen")
    bin_dir = stack_binaries()
    log(f"stack programs from {bin_dir}")
    prometheus_bin = os.path.join(bin_dir, "prometheus")
    alertmanager_bin = os.path.join(bin_dir, "alertmanager")

    predictor_addr = f"127.0.0.1:{free_port()}"
    prometheus_addr = f"127.0.0.1:{free_port()}"
    alertmanager_addr = f"127.0.0.1:{free_port()}"
    otelcol_otlp_grpc, otelcol_telemetry = f"127.0.0.1:{free_port()}", free_port()
    otelcol_metrics = f"127.0.0.1:{free_port()}"
    jaeger_otlp_grpc, jaeger_query = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    jaeger_health, otelcol_health = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    victorialogs_addr = f"127.0.0.1:{free_port()}"
    config_dir = os.path.join(workdir, "config")
    subprocess.run(
        [os.path.join(ROOT, "deploy/prometheus/render-local.sh"), config_dir],
        check=True, stdout=subprocess.DEVNULL,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",  # its checks use the pinned promtool, amtool
            "PREDICTOR_ADDR": predictor_addr,
            "PROMETHEUS_ADDR": prometheus_addr,
            "ALERTMANAGER_ADDR": alertmanager_addr,
            "COLLECTOR_ADDR": f"127.0.0.1:{otelcol_telemetry}",
            "OTLP_METRICS_ADDR": otelcol_metrics,
            "WEBHOOK_URL": f"http://127.0.0.1:{webhook.port}/alerts",
            "SCRAPE_INTERVAL": "2s",
            "FAST_FOR": "4s",
        },
    )

    log(f"starting VictoriaLogs ({victorialogs_addr}), Jaeger (query {jaeger_query}) and the Collector (OTLP {otelcol_otlp_grpc})")
    procs.start("victorialogs", [
        os.path.join(bin_dir, "victoria-logs"), f"-storageDataPath={workdir}/victorialogs",
        f"-httpListenAddr={victorialogs_addr}", "-retentionPeriod=1d", "-loggerLevel=WARN",
    ])
    procs.start("jaeger", collector_argv(os.path.join(bin_dir, "jaeger"), "deploy/jaeger/config.yaml", {
        "receivers.otlp.protocols.grpc.endpoint": jaeger_otlp_grpc,
        "receivers.otlp.protocols.http.endpoint": f"127.0.0.1:{free_port()}",
        "extensions.jaeger_query.http.endpoint": jaeger_query,
        "extensions.jaeger_query.grpc.endpoint": f"127.0.0.1:{free_port()}",
        "extensions.jaeger_query.ui.config_file": os.path.join(ROOT, "deploy/jaeger/ui-config.json"),
        "extensions.healthcheckv2.http.endpoint": jaeger_health,
        "service.telemetry.metrics.readers": pull_reader(free_port()),
    }))
    otelcol_argv = collector_argv(os.path.join(bin_dir, "otelcol"), "deploy/otel-collector/config.yaml", {
        "receivers.otlp.protocols.grpc.endpoint": otelcol_otlp_grpc,
        "receivers.otlp.protocols.http.endpoint": f"127.0.0.1:{free_port()}",
        "exporters.otlp/jaeger.endpoint": jaeger_otlp_grpc,
        "exporters.otlphttp/victorialogs.endpoint": f"http://{victorialogs_addr}/insert/opentelemetry",
        "exporters.prometheus.endpoint": otelcol_metrics,
        "extensions.health_check.endpoint": otelcol_health,
        "service.telemetry.metrics.readers": pull_reader(otelcol_telemetry),
    })
    procs.start("otelcol", otelcol_argv)

    log(f"starting predictor on {predictor_addr} (drift window {DRIFT_WINDOW})")
    host, port = predictor_addr.split(":")
    procs.start("predictor", [
        predictor_bin, "--host", host, "--port", port, "--allow-debug-headers",
        "--drift-window", DRIFT_WINDOW,
    ], env={"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_SERVICE_NAME": "predictor", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{otelcol_otlp_grpc}",
            # As compose: metrics by the Prometheus scrape only, logs over OTLP too.
            "OTEL_METRICS_EXPORTER": "prometheus", "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_BLRP_SCHEDULE_DELAY": "500"})
    procs.start("alertmanager", [
        alertmanager_bin, f"--config.file={config_dir}/alertmanager.yml",
        f"--storage.path={workdir}/alertmanager", f"--web.listen-address={alertmanager_addr}",
        "--cluster.listen-address=",
    ])
    procs.start("prometheus", [
        prometheus_bin, f"--config.file={config_dir}/prometheus.yml",
        f"--storage.tsdb.path={workdir}/prometheus", f"--web.listen-address={prometheus_addr}",
        "--enable-feature=exemplar-storage",
    ])
    prometheus = Prometheus(prometheus_addr)

    def ready(url):
        procs.check_alive()
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200

    wait_for("the predictor ready", lambda: ready(f"http://{predictor_addr}/health/ready"), 60, 0.2)
    wait_for("Alertmanager ready", lambda: ready(f"http://{alertmanager_addr}/-/ready"), 30, 0.2)
    wait_for("Prometheus ready", lambda: ready(f"http://{prometheus_addr}/-/ready"), 30, 0.2)
    wait_for("Jaeger healthy", lambda: ready(f"http://{jaeger_health}/status"), 60, 0.2)
    wait_for("the Collector healthy", lambda: ready(f"http://{otelcol_health}/"), 60, 0.2)
    wait_for("VictoriaLogs healthy", lambda: ready(f"http://{victorialogs_addr}/health"), 30, 0.2)
    logs = VictoriaLogs(victorialogs_addr)
    wait_for("Prometheus scraping the predictor (up == 1)",
             lambda: prometheus.query('up{job="predictor"} == 1'), 30, 0.5)
    wait_for("Prometheus scraping the Collector's own metrics (up == 1)",
             lambda: prometheus.query('up{job="otel-collector"} == 1'), 30, 0.5)
    traced = check_traces(f"http://{predictor_addr}", Jaeger(jaeger_query), procs)
    check_logs(logs, traced)
    check_scale_out(bin_dir, workdir, procs, Jaeger(jaeger_query), jaeger_otlp_grpc)
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
        # Chat completions, half streamed, for the Generative dashboard: server side here,
        # client side (loadgen's own metrics, job loadgen) through the Collector.
        procs.start("loadgen-chat", [loadgen_bin, "--url", url, "--scenario", "chat", "--rate", "3",
                                     "--duration", "45", "--concurrency", "4"],
                    env=loadgen_telemetry_env(otelcol_otlp_grpc)),
        # Feedback for every prediction, 2 s later, versicolor's truth reported as virginica.
        # Light (5 req/s and its feedback): more healthy requests would dilute the 5xx share
        # the error-rate alerts below need.
        loadgen("degrade", "--rate", "5", "--duration", "45", "--feedback-delay", "2"),
    ]
    refused_unknown_feedback(url)

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
    accuracy = wait_for("ModelAccuracyDrop at the webhook", lambda: firing("ModelAccuracyDrop"), 150)
    log(f"ModelAccuracyDrop notified for versions {sorted({e[2].get('ml_model_version') for e in accuracy})} "
        "(the degrade scenario's feedback)")

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
    check_openmetrics_parses(url)
    if queries:
        check_exemplars(prometheus, Jaeger(jaeger_query), queries)

    # The log store under the same scenarios: the dashboards' log panels, and the first log
    # query of each runbook (the telemetry ones after the Collector outage below).
    runbooks = logsql_of_runbooks()
    log_panels = [] if args.no_dashboards else dashboard_queries(["--logsql"])
    check_log_queries(logs, "dashboard LogsQL queries",
                      [(f"{q['dashboard']} / {q['panel']}", q["expr"], q["query_type"]) for q in log_panels])
    check_log_queries(logs, "runbook log queries (errors, latency, drift, models, service)",
                      [(alert, query, "instant") for alert, query in runbooks.items() if alert not in TELEMETRY_ALERTS])

    for child in phase1:
        child.wait(timeout=120)
    log("phase 2: healthy, unshifted traffic until both alerts resolve")
    healthy = loadgen("steady", "--rate", "150", "--duration", "240", "--concurrency", "4")
    collector_outage(procs, otelcol_argv, url, workdir)
    check_log_queries(logs, "telemetry runbook log queries after the Collector outage",
                      [(alert, runbooks[alert], "instant") for alert in sorted(TELEMETRY_ALERTS)])

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

    if not args.no_dashboards:
        check_otlp_metrics(args, predictor_bin, loadgen_bin, procs, prometheus, predictor_addr, otelcol_otlp_grpc)


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
