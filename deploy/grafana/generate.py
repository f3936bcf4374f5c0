#!/usr/bin/env python3
"""Writes the four Grafana dashboards of deploy/grafana/dashboards from this one source.

    python3 deploy/grafana/generate.py            # rewrite the JSON files
    python3 deploy/grafana/generate.py --check    # exit 1 if a committed file is stale

Why generated: the four dashboards share variables, units, thresholds and link shapes;
writing ~2 000 lines of Grafana JSON by hand repeats them and lets them drift apart.
The output is plain Grafana 11 JSON (schemaVersion 39), importable by hand (the
`__inputs` entry asks for the Prometheus data source, DS_PROMETHEUS) and provisionable
(a data-source variable of the same name resolves `${DS_PROMETHEUS}` in both cases).

The Service overview's Logs row queries the log store (VictoriaLogs, LogsQL) through the
data source of uid `victorialogs` (deploy/grafana/provisioning).

Metric names: docs/metrics.md (the Prometheus forms); recording rules:
deploy/prometheus/rules/*.yml. Thresholds: docs/predictor.md (5 % / 10 % error rate),
docs/drift.md (PSI 0.1 / 0.25), deploy/prometheus/rules/slo.yml (objectives).
"""

import json
import os
import re
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# The log store's data source, by the uid deploy/grafana/provisioning gives it (the Logs
# row's panels; a hand import needs a VictoriaLogs data source with this uid).
LOGS_DS = {"type": "victoriametrics-logs-datasource", "uid": "victorialogs"}

# Label matchers every model query shares.
MODEL = 'job="$job", ml_model_name="$model", ml_model_version=~"$version"'
RATE = "$__rate_interval"

GREEN, YELLOW, RED = "green", "yellow", "red"


def steps(*pairs):
    """Threshold steps: (value, colour) pairs, the first value None (base)."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


def target(expr, legend="", ref="A", instant=False, fmt=None, exemplar=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if exemplar:
        # Grafana asks Prometheus for the exemplars of the query's series
        # (/api/v1/query_exemplars) and draws them as points that link to their trace in
        # Jaeger (the data source's exemplarTraceIdDestinations). One target per panel.
        t["exemplar"] = True
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    return t


def logs_target(expr, query_type, legend=""):
    """A LogsQL query: `statsRange` (a `| stats` pipe per time step, for graphs) or
    `instant` (the log lines themselves)."""
    t = {"datasource": LOGS_DS, "refId": "A", "expr": expr, "queryType": query_type,
         "editorMode": "code"}
    if legend:
        t["legendFormat"] = legend
    return t


class Layout:
    """Places panels left to right on Grafana's 24-column grid, numbering them."""

    def __init__(self):
        self.panels, self.x, self.y, self.row_h, self.next_id = [], 0, 0, 0, 1

    def row(self, title):
        if self.x:
            self.y += self.row_h
        self.x, self.row_h = 0, 0
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.x, self.y = 0, self.y + 1

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.next_id += 1
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h) if panel["type"] != "row" else 0


def panel(kind, title, description, targets, unit=None, thresholds=None, links=None,
          mappings=None, options=None, custom=None, transformations=None, minimum=None,
          maximum=None, data_links=None, overrides=None):
    defaults = {}
    if data_links:
        defaults["links"] = data_links
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = thresholds
    if mappings:
        defaults["mappings"] = mappings
    if custom:
        defaults["custom"] = custom
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if links:
        p["links"] = links
    if transformations:
        p["transformations"] = transformations
    return p


def logs_panel(p):
    """A panel of the log store's data source instead of Prometheus."""
    p["datasource"] = LOGS_DS
    return p


def timeseries(title, description, targets, unit=None, thresholds=None, links=None,
               minimum=None, maximum=None, threshold_lines=False, data_links=None):
    custom = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if threshold_lines:
        custom["thresholdsStyle"] = {"mode": "line+area" if threshold_lines == "area" else "line"}
    return panel("timeseries", title, description, targets, unit, thresholds, links,
                 custom=custom, minimum=minimum, maximum=maximum, data_links=data_links,
                 options={"legend": {"displayMode": "table", "placement": "bottom",
                                     "calcs": ["lastNotNull", "max"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}})


def stat(title, description, targets, unit=None, thresholds=None, mappings=None, links=None):
    return panel("stat", title, description, targets, unit, thresholds or steps((None, GREEN)),
                 links, mappings, options={"reduceOptions": {"calcs": ["lastNotNull"]},
                                           "colorMode": "background", "graphMode": "area"})


def table(title, description, targets, transformations, unit=None, links=None, data_links=None,
          overrides=None):
    return panel("table", title, description, targets, unit, links=links, data_links=data_links,
                 overrides=overrides,
                 transformations=transformations, options={"showHeader": True})


# Grafana interpolates ${...} in link URLs before following them; everything else in a
# URL is percent-encoded here, the variable references left as they are.
VAR_REF = re.compile(r"\$\{[^}]+\}")


def quote_keeping_vars(text):
    parts, last = [], 0
    for match in VAR_REF.finditer(text):
        parts.append(urllib.parse.quote(text[last:match.start()], safe=""))
        parts.append(match.group(0))
        last = match.end()
    parts.append(urllib.parse.quote(text[last:], safe=""))
    return "".join(parts)


# Failed requests and predictions are searched by their attributes, not by `error=true`:
# Jaeger v2's memory storage (2.12, the compose stack's) compares that tag as a boolean
# while the UI and the links send the string "true", and finds nothing. Attributes match
# in every storage. 500 is the server's own failure (4xx spans have an unset status, and
# the per-series links find them by route and code); ml.prediction.outcome is "error" for
# a prediction whose model call failed.
SERVER_ERROR = {"http.response.status_code": "500"}
FAILED_PREDICTION = {"ml.prediction.outcome": "error"}


def jaeger_url(operation=None, tags=None):
    """The Jaeger UI's search for the service (and operation, and tags), over the
    dashboard's time range (Jaeger takes microseconds: Grafana's milliseconds + 000)."""
    url = "${jaeger_url}/search?service=${service:percentencode}"
    if operation:
        url += "&operation=" + quote_keeping_vars(operation)
    if tags:
        url += "&tags=" + quote_keeping_vars(json.dumps(tags, separators=(",", ":")))
    return url + "&start=${__from}000&end=${__to}000&lookback=custom&limit=50"


def jaeger_link(title, operation=None, tags=None):
    """A panel link (top left of the panel) to a Jaeger UI search."""
    return {"title": title, "url": jaeger_url(operation, tags), "targetBlank": True}


def explore_link(title, operation, tags=None):
    """A panel link to Grafana Explore with the provisioned Jaeger data source (uid jaeger),
    the same search as jaeger_link, over the dashboard's time range."""
    query = {"refId": "A", "datasource": {"type": "jaeger", "uid": "jaeger"},
             "queryType": "search", "service": "${service:percentencode}", "operation": operation, "limit": 50}
    if tags:
        query["tags"] = tags  # logfmt: key="value" ...
    panes = {"traces": {"datasource": "jaeger", "queries": [query],
                        "range": {"from": "${__from}", "to": "${__to}"}}}
    return {"title": title, "targetBlank": True,
            "url": "/explore?schemaVersion=1&orgId=1&panes="
                   + quote_keeping_vars(json.dumps(panes, separators=(",", ":")))}


def version_data_links(errors=False, version="${__field.labels.ml_model_version}"):
    """Series links (click a line or a cell): that series' model version in Jaeger. A table
    (merged frames keep no labels) passes its column instead: ${__data.fields.version}."""
    tags = {"ml.model.version": version}
    what = "Predictions"
    if errors:
        tags.update(FAILED_PREDICTION)
        what = "Failed predictions"
    return [{"title": f"{what} of ${{model}} {version} in Jaeger",
             "url": jaeger_url("predict ${model:percentencode}", tags), "targetBlank": True}]


def failed_request_links(tags, what):
    """Series links to the requests of one series in Jaeger. A 4xx is the client's error:
    its server span keeps an unset status (OpenTelemetry's HTTP conventions), so an
    error=true search misses it; the series' own attributes find 4xx and 5xx alike."""
    return [{"title": f"Requests {what} in Jaeger", "url": jaeger_url(tags=tags), "targetBlank": True}]


def var_datasource():
    return {"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
            "query": "prometheus", "hide": 0, "current": {}, "options": [], "refresh": 1,
            "regex": "", "description": "The Prometheus that scrapes the service."}


def var_query(name, label, query, multi=False, description=""):
    v = {"name": name, "label": label, "type": "query", "datasource": DS,
         # The plain-string form: every Grafana since 7 reads it (newer ones migrate it).
         "query": query, "definition": query,
         "refresh": 2, "sort": 1, "hide": 0, "multi": multi, "includeAll": multi,
         "current": {}, "options": [], "regex": "", "description": description}
    if multi:
        v["allValue"] = ".*"
    return v


def var_text(name, label, default, description):
    return {"name": name, "label": label, "type": "textbox", "query": default, "hide": 0,
            "current": {"text": default, "value": default},
            "options": [{"selected": True, "text": default, "value": default}],
            "description": description}


def var_custom(name, label, values, description):
    return {"name": name, "label": label, "type": "custom", "query": ",".join(values),
            "hide": 0, "multi": False, "includeAll": False,
            "current": {"text": values[0], "value": values[0]},
            "options": [{"selected": i == 0, "text": v, "value": v} for i, v in enumerate(values)],
            "description": description}


JOB = var_query("job", "Job", "label_values(http_server_request_duration_seconds_count, job)",
                description="The Prometheus scrape job of the service (job=\"predictor\" in the demo).")
SERVICE = var_text("service", "Service (traces, logs)", "predictor",
                   "The service.name of the traces in Jaeger and of the log lines in "
                   "VictoriaLogs (OTEL_SERVICE_NAME).")
JAEGER = var_text("jaeger_url", "Jaeger URL", "http://localhost:16686",
                  "Where the Jaeger UI is, for the links to traces.")


def dashboard(uid, title, description, tags, variables, layout, links_to):
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus",
                      "description": "The Prometheus that scrapes the service."}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *[{"type": "panel", "id": k, "name": k, "version": ""}
              for k in sorted({p["type"] for p in layout.panels if p["type"] != "row"})],
            *([{"type": "datasource", "id": LOGS_DS["type"], "name": "VictoriaLogs", "version": ""}]
              if any(p.get("datasource") == LOGS_DS for p in layout.panels) else []),
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["mlotel", *tags],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "templating": {"list": [var_datasource(), *variables]},
        "annotations": {"list": []},
        "links": [{"title": t, "type": "link", "url": f"/d/{u}", "keepTime": True,
                   "includeVars": True, "targetBlank": False, "icon": "dashboard"}
                  for t, u in links_to],
        "panels": layout.panels,
    }


def service_overview():
    job = 'job="$job"'
    req = f"http_server_request_duration_seconds_count{{{job}}}"
    lay = Layout()
    lay.row("Now")
    lay.add(stat("Up", "Prometheus's `up`: 1 when the last scrape of /metrics answered.",
                 [target(f"min(up{{{job}}})", instant=True)],
                 thresholds=steps((None, RED), (1, GREEN)),
                 mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}]), 3, 4)
    lay.add(stat("Uptime", "process.uptime of the oldest instance.",
                 [target(f"max(process_uptime_seconds{{{job}}})", instant=True)], unit="s"), 3, 4)
    lay.add(stat("Requests/s", "All routes, every status.",
                 [target(f"sum(rate({req}[{RATE}]))")], unit="reqps"), 4, 4)
    lay.add(stat("5xx error rate (5 m)", "Share of requests answered 5xx over 5 minutes "
                 "(recording rule job:http_server_requests_5xx:ratio_rate5m). Yellow from 5 %, "
                 "red from 10 % (the HighErrorRate alert fires above 5 % for 5 minutes).",
                 [target(f"job:http_server_requests_5xx:ratio_rate5m{{{job}}}")], unit="percentunit",
                 thresholds=steps((None, GREEN), (0.05, YELLOW), (0.1, RED))), 4, 4)
    lay.add(stat("p95 latency", "95th percentile of http.server.request.duration, all routes.",
                 [target(f"histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{{{job}}}[{RATE}])))")],
                 unit="s", thresholds=steps((None, GREEN), (0.25, YELLOW), (0.5, RED))), 4, 4)
    lay.add(stat("Active requests", "http.server.active_requests: requests being served now.",
                 [target(f"sum(http_server_active_requests{{{job}}})")]), 3, 4)
    lay.add(stat("Firing alerts", "Alerts firing in Prometheus for this job (0 when none).",
                 [target(f'count(ALERTS{{alertstate="firing", {job}}}) or vector(0)')],
                 thresholds=steps((None, GREEN), (1, RED))), 3, 4)

    lay.row("Rate, errors, duration per route")
    lay.add(timeseries("Requests/s by route", "http.server.request.duration count per route "
                       "template (never the raw path: bounded cardinality).",
                       [target(f"sum by (http_route) (rate({req}[{RATE}]))", "{{http_route}}")],
                       unit="reqps", links=[jaeger_link("${service} traces in Jaeger")]), 12, 8)
    lay.add(timeseries("Errors/s by route and status", "4xx (the client's) and 5xx (the "
                       "service's) answers per route and status code.",
                       [target(f'sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{{{job}, http_response_status_code=~"[45].."}}[{RATE}]))',
                               "{{http_route}} {{http_response_status_code}}")], unit="reqps",
                       links=[jaeger_link("500 responses in Jaeger", tags=SERVER_ERROR)],
                       data_links=failed_request_links({"http.route": "${__field.labels.http_route}",
                                                        "http.response.status_code": "${__field.labels.http_response_status_code}"},
                                                       "${__field.labels.http_route} ${__field.labels.http_response_status_code}")), 12, 8)
    lay.add(timeseries("5xx ratio by route", "Share of each route's requests answered 5xx. "
                       "Lines at 5 % and 10 %.",
                       [target(f'(sum by (http_route) (rate(http_server_request_duration_seconds_count{{{job}, http_response_status_code=~"5.."}}[{RATE}])) '
                               f'or sum by (http_route) (rate({req}[{RATE}])) * 0) / sum by (http_route) (rate({req}[{RATE}]))',
                               "{{http_route}}")], unit="percentunit", minimum=0,
                       thresholds=steps((None, GREEN), (0.05, YELLOW), (0.1, RED)), threshold_lines=True), 12, 8)
    lay.add(timeseries("Latency by route (p50, p95, p99)", "Quantiles of "
                       "http.server.request.duration, measured until the body is sent. Line at "
                       "500 ms (the latency objective).",
                       [target(f"histogram_quantile({q}, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{{{job}}}[{RATE}])))",
                               f"p{int(q * 100)} {{{{http_route}}}}", exemplar=q == 0.95) for q in (0.5, 0.95, 0.99)],
                       unit="s", thresholds=steps((None, GREEN), (0.5, RED)), threshold_lines=True), 12, 8)
    lay.add(timeseries("Errors by error.type", "Requests with an error.type (the JSON error's "
                       "`type`, or the 5xx cause).",
                       [target(f'sum by (error_type) (rate(http_server_request_duration_seconds_count{{{job}, error_type!=""}}[{RATE}]))',
                               "{{error_type}}")], unit="reqps",
                       links=[jaeger_link("500 responses in Jaeger", tags=SERVER_ERROR)],
                       data_links=failed_request_links({"error.type": "${__field.labels.error_type}"},
                                                       "error.type ${__field.labels.error_type}")), 12, 8)
    lay.add(timeseries("Body sizes (p95)", "http.server.request.body.size and "
                       "response.body.size, 95th percentile.",
                       [target(f"histogram_quantile(0.95, sum by (le) (rate(http_server_{d}_body_size_bytes_bucket{{{job}}}[{RATE}])))", d)
                        for d in ("request", "response")], unit="bytes"), 12, 8)

    lay.row("Saturation")
    lay.add(timeseries("CPU", "process.cpu.utilization (share of the CPUs available to the "
                       "process) and system.cpu.utilization.",
                       [target(f"process_cpu_utilization_ratio{{{job}}}", "process {{instance}}"),
                        target(f"system_cpu_utilization_ratio{{{job}}}", "system {{instance}}")],
                       unit="percentunit", minimum=0, maximum=1), 8, 8)
    lay.add(timeseries("Memory", "process.memory.usage (resident) and system.memory.usage (used).",
                       [target(f"process_memory_usage_bytes{{{job}}}", "process {{instance}}"),
                        target(f'system_memory_usage_bytes{{{job}, system_memory_state="used"}}', "system used {{instance}}")],
                       unit="bytes"), 8, 8)
    lay.add(timeseries("Threads and in-flight requests", "process.thread.count and "
                       "http.server.active_requests by method.",
                       [target(f"process_thread_count{{{job}}}", "threads {{instance}}"),
                        target(f"sum by (http_request_method) (http_server_active_requests{{{job}}})", "active {{http_request_method}}")]), 8, 8)

    lay.row("Logs")
    # From the log store (VictoriaLogs, LogsQL; docs/operations.md, "Logs"): the service's
    # OTLP log records, service.name = $service. A line's trace_id opens its trace (the
    # data source's derived field).
    service_logs = 'service.name:="$service"'
    lay.add(logs_panel(timeseries(
        "Error logs by error.type", "ERROR log lines per interval by their error.type (a "
        "failed prediction logs one, with the model and version; a 4xx logs none).",
        [logs_target(f"{service_logs} severity_text:=ERROR | stats by (error.type) count() logs",
                     "statsRange", "{{error.type}}")])), 8, 8)
    lay.add(logs_panel(timeseries(
        "Log lines by level", "Log lines per interval by severity. A successful prediction "
        "logs nothing; a slow one (250 ms or more) a WARN line; a failed one an ERROR line.",
        [logs_target(f"{service_logs} | stats by (severity_text) count() logs",
                     "statsRange", "{{severity_text}}")])), 8, 8)
    lay.add(logs_panel(panel(
        "logs", "Errors and warnings", "The ERROR and WARN lines themselves, newest first; "
        "a line's trace_id links to its trace in Jaeger.",
        [logs_target(f"{service_logs} severity_text:in(ERROR, WARN)", "instant")],
        options={"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                 "enableLogDetails": True})), 8, 8)

    lay.row("Telemetry pipeline")
    lay.add(timeseries("Exported per second (spans, metric points, logs)", "The SDK's exporter "
                       "counters; series with an error_type are failures (TelemetryExportFailing).",
                       [target(f'sum by (otel_component_type, error_type) (rate({{__name__=~"otel_sdk_exporter_(span|metric_data_point|log)_exported_total", {job}}}[{RATE}]))',
                               "{{otel_component_type}} {{error_type}}")], unit="ops"), 12, 8)
    lay.add(timeseries("Spans processed per second", "The batch span processor; error_type "
                       "queue_full means spans dropped (TelemetrySpansDropped).",
                       [target(f"sum by (otel_component_type, error_type) (rate(otel_sdk_processor_span_processed_total{{{job}}}[{RATE}]))",
                               "{{otel_component_type}} {{error_type}}")], unit="ops"), 12, 8)
    return dashboard("mlotel-service-overview", "mlotel / Service overview",
                     "RED per route, saturation and the telemetry pipeline of a service "
                     "instrumented with mlotel (docs/dashboards.md).", ["http"],
                     [JOB, SERVICE, JAEGER], lay,
                     [("Model quality", "mlotel-model-quality"), ("SLOs", "mlotel-slo")])


def model_quality():
    lay = Layout()
    model_links = [
        jaeger_link("Predictions of ${model} in Jaeger", "predict ${model:percentencode}"),
        jaeger_link("Failed predictions of ${model} in Jaeger", "predict ${model:percentencode}", FAILED_PREDICTION),
        explore_link("Predictions of ${model} in Grafana Explore (Jaeger data source)", "predict ${model:percentencode}"),
    ]
    ok = f'{MODEL}, ml_prediction_outcome="ok"'
    preds = f"ml_predictions_total{{{MODEL}}}"
    # The confidence histogram is ml_prediction_confidence_ratio_* on the service's own
    # /metrics and ml_prediction_confidence_* through the Collector (which adds the unit-1
    # suffix to gauges only): `or` of the two aggregates reads either path, and a service
    # on both paths at once is read from its scrape (same labels after the sum: no double).
    def confidence(part, by, fn="rate"):
        return (f"(sum by ({by}) ({fn}(ml_prediction_confidence_ratio_{part}{{{MODEL}}}[{RATE}])) or "
                f"sum by ({by}) ({fn}(ml_prediction_confidence_{part}{{{MODEL}}}[{RATE}])))")
    conf_mean = f'{confidence("sum", "ml_model_version")} / {confidence("count", "ml_model_version")}'
    p95 = f"histogram_quantile(0.95, sum by (le, ml_model_version) (rate(ml_prediction_duration_seconds_bucket{{{MODEL}}}[{RATE}])))"
    error_ratio = (f'(sum by (ml_model_version) (rate(ml_predictions_total{{{MODEL}, ml_prediction_outcome!="ok"}}[{RATE}])) '
                   f"or sum by (ml_model_version) (rate({preds}[{RATE}])) * 0) / sum by (ml_model_version) (rate({preds}[{RATE}]))")
    by_version = version_data_links()
    # Tables merge their frames into columns and drop the labels: the link reads the column.
    by_version_column = version_data_links(version="${__data.fields.version}")
    # Per-method thresholds of docs/drift.md §3 for panels that show several methods: PSI
    # 0.1 (moderate) / 0.25 (major); Jensen-Shannon, KS D, normalised Wasserstein and the
    # missing share 0.1. Chi-square's statistic has no fixed threshold (its critical value
    # depends on the bins either side used): its p-value, chisquare_pvalue, is the decision.
    method_overrides = [
        {"matcher": {"id": "byRegexp", "options": f".* {m}$"},
         "properties": [{"id": "thresholds", "value": th}]}
        for m, th in (
            ("psi", steps((None, GREEN), (0.1, YELLOW), (0.25, RED))),
            ("(jensenshannon|ks|wasserstein_normed|missing_share)", steps((None, GREEN), (0.1, RED))),
        )
    ]

    lay.row("Model")
    lay.add(table("Versions served", "ml.model.info (the versions registered), ml.model.loaded "
                  "(0 while loading or after a failed load: ModelNotLoaded; /health/ready "
                  "answers 503) and ml.model.load.duration, per version.",
                  [target(f"max by (ml_model_name, ml_model_version) (ml_model_info_ratio{{{MODEL}}})", instant=True, fmt="table"),
                   target(f"max by (ml_model_name, ml_model_version) (ml_model_loaded_ratio{{{MODEL}}})", instant=True, fmt="table"),
                   target(f"max by (ml_model_name, ml_model_version) (ml_model_load_duration_seconds{{{MODEL}}})", instant=True, fmt="table")],
                  [{"id": "merge", "options": {}},
                   {"id": "organize", "options": {
                       "excludeByName": {"Time": True, "Value #A": True},
                       "renameByName": {"ml_model_name": "model", "ml_model_version": "version",
                                        "Value #B": "loaded", "Value #C": "load time"}}}],
                  data_links=by_version_column,
                  overrides=[
                      {"matcher": {"id": "byName", "options": "loaded"}, "properties": [
                          {"id": "mappings", "value": [{"type": "value", "options": {
                              "0": {"text": "not loaded", "color": RED}, "1": {"text": "loaded", "color": GREEN}}}]},
                          {"id": "custom.cellOptions", "value": {"type": "color-background"}}]},
                      {"matcher": {"id": "byName", "options": "load time"}, "properties": [{"id": "unit", "value": "s"}]},
                  ]), 10, 5)
    lay.add(stat("Loaded", "Versions of the model whose ml.model.loaded is 1, of those registered.",
                 [target(f"sum(max by (ml_model_version) (ml_model_loaded_ratio{{{MODEL}}})) / count(max by (ml_model_version) (ml_model_info_ratio{{{MODEL}}}))")],
                 unit="percentunit", thresholds=steps((None, RED), (1, GREEN))), 4, 5)
    lay.add(stat("Predictions/s", "Rows predicted per second, all selected versions.",
                 [target(f"sum(rate({preds}[{RATE}]))")], unit="ops", links=model_links), 5, 5)
    lay.add(stat("In flight", "ml.predictions.active: model calls running now.",
                 [target(f"sum(ml_predictions_active{{{MODEL}}})")]), 5, 5)

    lay.row("Traffic and latency")
    lay.add(timeseries("Predictions/s by version and label", "ml.predictions by predicted "
                       "label (ok outcomes): the class mix each version answers. Click a line "
                       "for that version's traces.",
                       [target(f"sum by (ml_model_version, ml_prediction_label) (rate(ml_predictions_total{{{ok}}}[{RATE}]))",
                               "{{ml_model_version}} {{ml_prediction_label}}")], unit="ops", links=model_links,
                       data_links=by_version), 12, 8)
    lay.add(timeseries("Failed predictions/s by version and error.type", "Outcomes error, "
                       "panic and cancelled (the demo's X-Debug-Fail gives error/model_failure).",
                       [target(f'sum by (ml_model_version, ml_prediction_outcome, error_type) (rate(ml_predictions_total{{{MODEL}, ml_prediction_outcome!="ok"}}[{RATE}]))',
                               "{{ml_model_version}} {{ml_prediction_outcome}} {{error_type}}")], unit="ops",
                       links=model_links, data_links=version_data_links(errors=True)), 12, 8)
    lay.add(timeseries("Prediction latency by version (p50, p95, p99)", "ml.prediction.duration: "
                       "the model call alone (no HTTP, no JSON). Line at 500 ms "
                       "(HighPredictionLatency).",
                       [target(f"histogram_quantile({q}, sum by (le, ml_model_version) (rate(ml_prediction_duration_seconds_bucket{{{MODEL}}}[{RATE}])))",
                               f"p{int(q * 100)} {{{{ml_model_version}}}}", exemplar=q == 0.95) for q in (0.5, 0.95, 0.99)],
                       unit="s", thresholds=steps((None, GREEN), (0.5, RED)), threshold_lines=True,
                       links=model_links, data_links=by_version), 24, 8)

    lay.row("Confidence")
    lay.add(panel("heatmap", "Confidence distribution", "ml.prediction.confidence histogram: "
                  "how sure the model is, over time (all selected versions; buckets 0.1 ... 0.9, "
                  "0.95, 0.99).",
                  [target(confidence("bucket", "le", "increase"),
                          "{{le}}", fmt="heatmap", exemplar=True)],
                  options={"calculate": False, "yAxis": {"unit": "percentunit"},
                           "color": {"scheme": "Blues", "mode": "scheme"},
                           "cellGap": 1, "rowsFrame": {"layout": "auto"}}), 12, 8)
    lay.add(timeseries("Mean confidence by version", "From the confidence histogram "
                       "(sum / count) and, for models with a drift reference, the mean over the "
                       "drift window. Line at 0.5 (LowPredictionConfidence).",
                       [target(conf_mean, "{{ml_model_version}} (histogram)"),
                        target(f"max by (ml_model_version) (ml_prediction_confidence_mean_ratio{{{MODEL}}})",
                               "{{ml_model_version}} (drift window)")],
                       unit="percentunit", thresholds=steps((None, RED), (0.5, GREEN)), threshold_lines=True,
                       data_links=by_version), 6, 8)
    lay.add(timeseries("Confidence change from reference", "Window mean confidence minus the "
                       "mean on the reference data (a drop estimates an accuracy drop for a "
                       "calibrated model).",
                       [target(f"max by (ml_model_version) (ml_prediction_confidence_mean_change_ratio{{{MODEL}}})",
                               "{{ml_model_version}}")], unit="percentunit"), 6, 8)

    lay.row("Drift")
    lay.add(timeseries("Feature drift (PSI) by feature", "ml.feature.drift, method psi: "
                       "mlotel's default decision. Lines at 0.1 (moderate shift: drift detected, "
                       "FeatureDrift after 15 minutes) and 0.25 (major shift).",
                       [target(f'max by (ml_model_version, ml_feature_name) (ml_feature_drift_ratio{{{MODEL}, ml_feature_name=~"$feature", ml_drift_method="psi"}})',
                               "{{ml_model_version}} {{ml_feature_name}}")],
                       thresholds=steps((None, GREEN), (0.1, YELLOW), (0.25, RED)), threshold_lines=True,
                       minimum=0), 12, 9)
    lay.add(panel("state-timeline", "Drift detected by feature", "ml.feature.drift.detected: "
                  "mlotel's decision per feature (the method and threshold configured for the "
                  "model). FeatureDrift fires after 15 minutes of 1.",
                  [target(f'max by (ml_model_version, ml_feature_name) (ml_feature_drift_detected_ratio{{{MODEL}, ml_feature_name=~"$feature"}})',
                          "{{ml_model_version}} {{ml_feature_name}}")],
                  thresholds=steps((None, GREEN), (1, RED)),
                  mappings=[{"type": "value", "options": {"0": {"text": "ok", "color": GREEN},
                                                          "1": {"text": "drift", "color": RED}}}],
                  options={"showValue": "never", "mergeValues": True}), 12, 9)
    lay.add(timeseries("Feature drift ($method) by feature", "ml.feature.drift for the method "
                       "chosen in the Drift method variable. Thresholds (docs/drift.md): psi 0.1 "
                       "(0.25 major), jensenshannon, ks, wasserstein_normed and missing_share 0.1: "
                       "drift at or above; ks_pvalue and chisquare_pvalue 0.05: drift below; "
                       "chisquare is the X² statistic, judged at its own degrees of freedom "
                       "(read chisquare_pvalue). No line drawn: it depends on the method.",
                       [target(f'max by (ml_model_version, ml_feature_name) (ml_feature_drift_ratio{{{MODEL}, ml_feature_name=~"$feature", ml_drift_method="$method"}})',
                               "{{ml_model_version}} {{ml_feature_name}}")], minimum=0), 8, 9)
    lay.add(panel("bargauge", "All methods, now", "Every distance per feature and method "
                  "(p-values and chi-square's statistic excluded: chisquare_pvalue decides), for the "
                  "selected versions, each coloured by its own threshold (docs/drift.md): psi "
                  "0.1 / 0.25, jensenshannon, ks, wasserstein_normed, missing_share 0.1.",
                  [target(f'max by (ml_feature_name, ml_drift_method) (ml_feature_drift_ratio{{{MODEL}, ml_feature_name=~"$feature", ml_drift_method!~".*_pvalue|chisquare"}})',
                          "{{ml_feature_name}} {{ml_drift_method}}", instant=True)],
                  thresholds=steps((None, GREEN), (0.1, RED)), overrides=method_overrides,
                  options={"orientation": "horizontal", "displayMode": "gradient",
                           "reduceOptions": {"calcs": ["lastNotNull"]}}), 8, 9)
    lay.add(timeseries("Dataset drift share", "ml.dataset.drift_share: drifted features / "
                       "features, per version (Evidently calls a dataset drifted from 0.5).",
                       [target(f"max by (ml_model_version) (ml_dataset_drift_share_ratio{{{MODEL}}})", "{{ml_model_version}}")],
                       unit="percentunit", minimum=0, maximum=1,
                       thresholds=steps((None, GREEN), (0.5, RED)), threshold_lines=True), 8, 9)
    lay.add(timeseries("Prediction drift (PSI)", "ml.prediction.drift of the predicted label "
                       "mix and of the confidence against the predictions on the reference data "
                       "(PredictionDrift at 0.1).",
                       [target(f'max by (ml_model_version, ml_drift_signal) (ml_prediction_drift_ratio{{{MODEL}, ml_drift_method="psi"}})',
                               "{{ml_model_version}} {{ml_drift_signal}}")],
                       thresholds=steps((None, GREEN), (0.1, YELLOW), (0.25, RED)), threshold_lines=True,
                       minimum=0), 8, 9)
    lay.add(timeseries("Drift window", "ml.drift.window.observations: rows and predictions in "
                       "the window. Below the minimum (500 by default) no drift is reported, "
                       "which is why the drift panels can be empty.",
                       [target(f"max by (ml_model_version, ml_drift_signal) (ml_drift_window_observations{{{MODEL}}})",
                               "{{ml_model_version}} {{ml_drift_signal}}")],
                       thresholds=steps((None, YELLOW), (500, GREEN)), threshold_lines=True), 8, 9)
    lay.add(timeseries("Out-of-range inputs/s by feature", "ml.feature.out_of_range: values "
                       "outside the reference's min..max, a sign of a broken upstream or a "
                       "new population.",
                       [target(f'sum by (ml_feature_name) (rate(ml_feature_out_of_range_total{{{MODEL}, ml_feature_name=~"$feature"}}[{RATE}]))',
                               "{{ml_feature_name}}")], unit="ops"), 8, 9)

    lay.row("A/B comparison")
    lay.add(table("Versions side by side", "Per version: predictions/s, p95 model latency, mean "
                  "confidence and failed share, over the last rate interval. Click a cell for "
                  "that version's traces.",
                  [target(f"sum by (ml_model_version) (rate({preds}[{RATE}]))", instant=True, fmt="table"),
                   target(p95, instant=True, fmt="table"),
                   target(conf_mean, instant=True, fmt="table"),
                   target(error_ratio, instant=True, fmt="table")],
                  [{"id": "merge", "options": {}},
                   {"id": "organize", "options": {
                       "excludeByName": {"Time": True},
                       "renameByName": {"ml_model_version": "version", "Value #A": "predictions/s",
                                        "Value #B": "p95 latency", "Value #C": "mean confidence",
                                        "Value #D": "failed share"}}}],
                  links=model_links, data_links=by_version_column,
                  overrides=[{"matcher": {"id": "byName", "options": n}, "properties": [{"id": "unit", "value": u}]}
                             for n, u in (("predictions/s", "ops"), ("p95 latency", "s"),
                                          ("mean confidence", "percentunit"), ("failed share", "percentunit"))]), 24, 5)
    lay.add(timeseries("Predictions/s, A against B", "Rows predicted per second per version "
                       "(every outcome).",
                       [target(f"sum by (ml_model_version) (rate({preds}[{RATE}]))", "{{ml_model_version}}")],
                       unit="ops", data_links=by_version), 6, 7)
    lay.add(timeseries("p95 latency, A against B", "p95 of ml.prediction.duration per version.",
                       [target(p95, "{{ml_model_version}}")], unit="s", data_links=by_version), 6, 7)
    lay.add(timeseries("Mean confidence, A against B", "Mean confidence per version (histogram "
                       "sum / count), to compare a candidate with the current version.",
                       [target(conf_mean, "{{ml_model_version}}")], unit="percentunit",
                       data_links=by_version), 6, 7)
    lay.add(timeseries("Failed share, A against B", "Share of predictions whose outcome is not "
                       "ok, per version.",
                       [target(error_ratio, "{{ml_model_version}}")], unit="percentunit", minimum=0,
                       data_links=version_data_links(errors=True)), 6, 7)

    # Fleet-wide drift (docs/drift.md §7): the recording rules of rules/fleet_drift.yml, over
    # every replica of a version; the per-replica gauges of the Drift row stay above.
    fleet = f'{MODEL}, ml_feature_name=~"$feature"'
    lay.row("Fleet-wide drift (all replicas)")
    lay.add(timeseries("Fleet-wide feature drift (PSI, 5m)", "PSI of each feature over every "
                       "replica of the version and the last 5 minutes, from the bin counters "
                       "(job_model_version_feature:ml_feature_psi:rate5m; docs/drift.md §7). No "
                       "value below 500 observations over the fleet. FeatureDrift alerts on it at 0.1.",
                       [target(f"max by (ml_model_version, ml_feature_name) (job_model_version_feature:ml_feature_psi:rate5m{{{fleet}}})",
                               "{{ml_model_version}} {{ml_feature_name}}")],
                       thresholds=steps((None, GREEN), (0.1, YELLOW), (0.25, RED)), threshold_lines=True,
                       minimum=0), 12, 9)
    lay.add(timeseries("Fleet-wide feature drift (Jensen-Shannon, 5m)", "Jensen-Shannon distance "
                       "(base 2) of each feature over every replica and the last 5 minutes "
                       "(job_model_version_feature:ml_feature_jensenshannon:rate5m). Line at 0.1.",
                       [target(f"max by (ml_model_version, ml_feature_name) (job_model_version_feature:ml_feature_jensenshannon:rate5m{{{fleet}}})",
                               "{{ml_model_version}} {{ml_feature_name}}")],
                       thresholds=steps((None, GREEN), (0.1, RED)), threshold_lines=True,
                       minimum=0), 12, 9)
    lay.add(timeseries("Fleet-wide prediction drift (PSI, 5m)", "PSI of the predicted label mix "
                       "and of the confidence over every replica and the last 5 minutes "
                       "(job_model_version_signal:ml_prediction_psi:rate5m). PredictionDrift at 0.1.",
                       [target(f"max by (ml_model_version, ml_drift_signal) (job_model_version_signal:ml_prediction_psi:rate5m{{{MODEL}}})",
                               "{{ml_model_version}} {{ml_drift_signal}}")],
                       thresholds=steps((None, GREEN), (0.1, YELLOW), (0.25, RED)), threshold_lines=True,
                       minimum=0), 8, 9)
    lay.add(timeseries("Fleet-wide drift share (5m)", "Share of a version's features whose "
                       "fleet-wide PSI is at or above 0.1 (job_model_version:ml_dataset_drift_share:rate5m).",
                       [target(f"max by (ml_model_version) (job_model_version:ml_dataset_drift_share:rate5m{{{MODEL}}})",
                               "{{ml_model_version}}")],
                       unit="percentunit", minimum=0, maximum=1,
                       thresholds=steps((None, GREEN), (0.5, RED)), threshold_lines=True), 8, 9)
    lay.add(panel("bargauge", "Fleet-wide PSI, 5m and 1h, now", "Each feature's fleet-wide PSI "
                  "over the last 5 minutes and the last hour: a shift that lasts shows in both, a "
                  "burst in the 5-minute value only.",
                  [target(f"max by (ml_feature_name) (job_model_version_feature:ml_feature_psi:rate5m{{{fleet}}})",
                          "{{ml_feature_name}} 5m", instant=True),
                   target(f"max by (ml_feature_name) (job_model_version_feature:ml_feature_psi:rate1h{{{fleet}}})",
                          "{{ml_feature_name}} 1h", ref="B", instant=True)],
                  thresholds=steps((None, GREEN), (0.1, YELLOW), (0.25, RED)),
                  options={"orientation": "horizontal", "displayMode": "gradient",
                           "reduceOptions": {"calcs": ["lastNotNull"]}}), 8, 9)
    # Realised performance: outcomes recorded when the truth arrives (docs/ground-truth.md),
    # summed over replicas by the rules of deploy/prometheus/rules/ground_truth.yml, next to
    # the confidence-based estimate above.
    lay.row("Realised performance (ground truth)")
    lay.add(timeseries("Accuracy and macro-F1 by version (last hour's outcomes)",
                       "Realised accuracy and macro-F1 of the outcomes recorded over the last "
                       "hour, every replica (job_model_version:ml_outcomes_accuracy:ratio1h, "
                       "..._macro_f1:ratio1h), against the version's hold-out accuracy "
                       "(dashed). ModelAccuracyDrop: 10 points below it on 50 outcomes or more, "
                       "for 15 minutes. Empty until outcomes are recorded.",
                       [target(f"job_model_version:ml_outcomes_accuracy:ratio1h{{{MODEL}}}", "{{ml_model_version}} accuracy"),
                        target(f"job_model_version:ml_outcomes_macro_f1:ratio1h{{{MODEL}}}", "{{ml_model_version}} macro-F1"),
                        target(f"job_model_version:ml_model_reference_accuracy:max{{{MODEL}}}", "{{ml_model_version}} hold-out accuracy")],
                       unit="percentunit", minimum=0, maximum=1, data_links=by_version), 12, 8)
    lay.add(timeseries("Estimated against realised accuracy", "The estimate available at "
                       "prediction time, the mean confidence (an accuracy estimate for a "
                       "calibrated model), beside the truth once labels arrive: realised accuracy "
                       "over the last hour. Apart, the model is miscalibrated (see the "
                       "reliability diagram) or the labels lag the change.",
                       [target(conf_mean, "{{ml_model_version}} estimated (mean confidence)"),
                        target(f"job_model_version:ml_outcomes_accuracy:ratio1h{{{MODEL}}}", "{{ml_model_version}} realised")],
                       unit="percentunit", minimum=0, maximum=1, data_links=by_version), 12, 8)
    lay.add(table("Confusion matrix (last hour)", "Outcomes recorded over the last hour, all "
                  "selected versions and replicas: rows the predicted label, columns the true "
                  "one (ml_outcomes_total). The diagonal is right.",
                  [target(f"sum by (ml_prediction_label, ml_outcome_label) (increase(ml_outcomes_total{{{MODEL}}}[1h]))",
                          instant=True, fmt="table")],
                  [{"id": "groupingToMatrix", "options": {"rowField": "ml_prediction_label",
                                                         "columnField": "ml_outcome_label",
                                                         "valueField": "Value"}},
                   {"id": "renameByName", "options": {"ml_prediction_label\\ml_outcome_label": "predicted \\ actual"}}],
                  unit="short"), 8, 8)
    lay.add(panel("barchart", "Reliability diagram (last hour)", "Per confidence bin (upper "
                  "edge), the share of outcomes that were right against the mean confidence: "
                  "equal for a calibrated model (sklearn's calibration_curve). Below the "
                  "confidence: over-confident.",
                  [target(f"avg by (ml_confidence_bin) (job_model_version_bin:ml_outcome_calibration_accuracy:ratio1h{{{MODEL}}})",
                          "share right", instant=True, fmt="table"),
                   target(f"avg by (ml_confidence_bin) (job_model_version_bin:ml_outcome_calibration_confidence:mean1h{{{MODEL}}})",
                          "mean confidence", instant=True, fmt="table")],
                  unit="percentunit", minimum=0, maximum=1,
                  transformations=[{"id": "merge", "options": {}},
                                   {"id": "organize", "options": {
                                       "excludeByName": {"Time": True},
                                       "renameByName": {"ml_confidence_bin": "confidence bin",
                                                        "Value #A": "share right",
                                                        "Value #B": "mean confidence"}}}],
                  options={"xField": "confidence bin", "orientation": "vertical",
                           "legend": {"displayMode": "list", "placement": "bottom"}}), 8, 8)
    lay.add(timeseries("Expected calibration error", "ECE of the last hour's outcomes: the "
                       "outcome-weighted gap between confidence and accuracy over ten bins "
                       "(0 for a calibrated model).",
                       [target(f"job_model_version:ml_outcome_calibration_ece:ratio1h{{{MODEL}}}", "{{ml_model_version}}")],
                       unit="percentunit", minimum=0), 8, 8)
    lay.add(timeseries("F1 by class (last hour)", "Per class F1 = 2 TP / (2 TP + FP + FN) of the "
                       "last hour's outcomes: the class a degradation hits falls alone.",
                       [target(f"job_model_version_class:ml_outcomes_f1:ratio1h{{{MODEL}}}", "{{ml_model_version}} {{class}}")],
                       unit="percentunit", minimum=0, maximum=1), 8, 8)
    lay.add(timeseries("Label delay (p50, p95)", "ml.outcome.delay: time from a prediction to "
                       "its recorded outcome, over the last hour's outcomes. The realised row "
                       "judges predictions this old.",
                       [target(f"job_model_version:ml_outcome_delay_seconds:p50_1h{{{MODEL}}}", "p50 {{ml_model_version}}"),
                        target(f"job_model_version:ml_outcome_delay_seconds:p95_1h{{{MODEL}}}", "p95 {{ml_model_version}}")],
                       unit="s"), 8, 8)
    lay.add(timeseries("Outcomes recorded and lost /s", "Outcomes recorded per second, and "
                       "those that found no prediction (ml.outcomes.unmatched by reason: "
                       "evicted or expired means the prediction store is too small or the labels "
                       "too late; unknown_id, feedback sent to the wrong replica). Also "
                       "predictions evicted from the store before their outcome came.",
                       [target(f"sum by (ml_model_version) (rate(ml_outcomes_total{{{MODEL}}}[{RATE}]))", "{{ml_model_version}} recorded"),
                        target(f"sum by (ml_model_version, ml_outcome_unmatched_reason) (rate(ml_outcomes_unmatched_total{{{MODEL}}}[{RATE}]))",
                               "{{ml_model_version}} unmatched {{ml_outcome_unmatched_reason}}"),
                        target(f"sum by (ml_model_version) (rate(ml_prediction_store_evictions_total{{{MODEL}}}[{RATE}]))",
                               "{{ml_model_version}} evicted from the store")],
                       unit="ops", data_links=by_version), 8, 8)
    model_vars = [
        JOB,
        var_query("model", "Model", 'label_values(ml_model_info_ratio{job="$job"}, ml_model_name)',
                  description="ml.model.name"),
        var_query("version", "Version", 'label_values(ml_model_info_ratio{job="$job", ml_model_name="$model"}, ml_model_version)',
                  multi=True, description="ml.model.version (All for every version)"),
        var_query("feature", "Feature", 'label_values(ml_feature_drift_ratio{job="$job", ml_model_name="$model"}, ml_feature_name)',
                  multi=True, description="Features of the drift reference"),
        var_custom("method", "Drift method", ["psi", "jensenshannon", "ks", "wasserstein_normed", "chisquare",
                                              "ks_pvalue", "chisquare_pvalue", "missing_share"],
                   "The statistic of the 'Feature drift ($method)' panel (docs/drift.md)."),
        SERVICE, JAEGER,
    ]
    return dashboard("mlotel-model-quality", "mlotel / Model quality",
                     "Predictions, latency, confidence and drift per model version, and an A/B "
                     "comparison (docs/dashboards.md).", ["ml", "drift"], model_vars, lay,
                     [("Service overview", "mlotel-service-overview"), ("SLOs", "mlotel-slo")])


def slo():
    job = 'job="$job"'
    lay = Layout()
    lay.row("Objectives")
    lay.add(panel("text", "The objectives", "", [], options={"mode": "markdown", "content": (
        "**Availability**: 99.9 % of prediction requests (routes ending in `predict`) are not "
        "answered with a 5xx. Budget: 0.1 % of requests.\n\n"
        "**Latency**: 95 % of prediction requests complete within 500 ms (p95 < 500 ms). "
        "Budget: 5 % of requests.\n\n"
        "A *burn rate* is the bad-event ratio divided by the budget: 1 spends the budget in "
        "exactly 30 days. Pages fire at 14.4 (1 h and 5 m windows) and 6 (6 h and 30 m); "
        "tickets at 3 (1 d and 2 h) and 1 (3 d and 6 h) — the SRE workbook's multi-window, "
        "multi-burn-rate alerts (deploy/prometheus/rules/slo.yml, docs/runbooks/).\n\n"
        "The SLIs come from `http_server_request_duration_seconds` of the prediction routes "
        "(`http_route=~\".*predict\"`), through the recording rules `job:slo_prediction_*`.")}), 24, 5)
    lay.add(stat("Availability, last hour", "Share of prediction requests not answered 5xx "
                 "over 1 hour. Objective 99.9 %.",
                 [target(f"1 - job:slo_prediction_errors:ratio_rate1h{{{job}}}")], unit="percentunit",
                 thresholds=steps((None, RED), (0.999, GREEN))), 4, 4)
    lay.add(stat("Availability budget left (30 d)", "1 = untouched, 0 = spent, negative = "
                 "overspent (over the days recorded so far).",
                 [target(f"job:slo_prediction_availability:error_budget_remaining30d{{{job}}}")],
                 unit="percentunit", thresholds=steps((None, RED), (0.25, YELLOW), (0.5, GREEN))), 4, 4)
    lay.add(stat("Under 500 ms, last hour", "Share of prediction requests completed within "
                 "500 ms over 1 hour. Objective 95 %.",
                 [target(f"1 - job:slo_prediction_slow:ratio_rate1h{{{job}}}")], unit="percentunit",
                 thresholds=steps((None, RED), (0.95, GREEN))), 4, 4)
    lay.add(stat("Latency budget left (30 d)", "As for availability, for the latency objective.",
                 [target(f"job:slo_prediction_latency:error_budget_remaining30d{{{job}}}")],
                 unit="percentunit", thresholds=steps((None, RED), (0.25, YELLOW), (0.5, GREEN))), 4, 4)
    firing = 'ALERTS{alertname=~".*BudgetBurn", alertstate="firing", job="$job"}'
    lay.add(stat("Burn-rate alerts", "PredictionAvailabilityBudgetBurn and "
                 "PredictionLatencyBudgetBurn (any of their four window pairs) firing now, per "
                 "SLO: ALERTS, with 0 for an SLO that has none firing.",
                 [target(f'max by (slo) ({firing}) '
                         'or label_replace(vector(0), "slo", "prediction-availability", "", "") '
                         'or label_replace(vector(0), "slo", "prediction-latency", "", "")', "{{slo}}")],
                 thresholds=steps((None, GREEN), (1, RED)),
                 mappings=[{"type": "value", "options": {"0": {"text": "OK"}, "1": {"text": "FIRING"}}}]), 4, 4)
    lay.add(stat("Prediction p95 now", "p95 of the prediction routes' request duration.",
                 [target(f'histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{{{job}, http_route=~".*predict"}}[{RATE}])))')],
                 unit="s", thresholds=steps((None, GREEN), (0.5, RED))), 4, 4)

    # The recorded windows (slo.yml) and the alerts' pairs: (severity, long, short, burn rate).
    windows = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    pairs = (("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6), ("ticket", "1d", "2h", 3),
             ("ticket", "3d", "6h", 1))
    burn_steps = steps((None, GREEN), (1, YELLOW), (6, "orange"), (14.4, RED))
    for sli, name, budget, alert in (("errors", "Availability", 0.001, "PredictionAvailabilityBudgetBurn"),
                                     ("slow", "Latency", 0.05, "PredictionLatencyBudgetBurn")):
        lay.row(f"{name} burn rate")
        lay.add(timeseries(f"{name} burn rate", f"job:slo_prediction_{sli}:ratio_rate<window> / "
                           f"{budget} for every recorded window: 1 spends the 30-day budget in "
                           "30 days. Lines at 1, 6 and 14.4.",
                           [target(f"job:slo_prediction_{sli}:ratio_rate{w}{{{job}}} / {budget}", w) for w in windows],
                           thresholds=burn_steps, threshold_lines=True, minimum=0), 14, 8)
        lay.add(panel("bargauge", f"{alert}: window pairs now", f"{alert} fires when both "
                      "windows of a pair burn faster than the pair's rate, i.e. when the smaller "
                      "of the two burn rates (shown) crosses it: each bar turns red at its own "
                      "threshold.",
                      [target(f'min by (job) ({{__name__=~"job:slo_prediction_{sli}:ratio_rate({lw}|{sw})", {job}}}) / {budget}',
                              f"{sev}: {lw} & {sw} > {rate}", instant=True)
                       for sev, lw, sw, rate in pairs],
                      thresholds=burn_steps,
                      overrides=[{"matcher": {"id": "byFrameRefID", "options": chr(ord("A") + i)},
                                  "properties": [{"id": "thresholds", "value": steps((None, GREEN), (rate, RED))}]}
                                 for i, (_, _, _, rate) in enumerate(pairs)],
                      options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                               "reduceOptions": {"calcs": ["lastNotNull"]}}), 10, 8)

    lay.row("Budgets and events")
    lay.add(timeseries("Error budget remaining (30 d)", "Both budgets over time.",
                       [target(f"job:slo_prediction_availability:error_budget_remaining30d{{{job}}}", "availability"),
                        target(f"job:slo_prediction_latency:error_budget_remaining30d{{{job}}}", "latency")],
                       unit="percentunit"), 12, 8)
    lay.add(timeseries("Prediction requests/s: good and bad", "The SLIs' events: all prediction "
                       "requests, 5xx ones and slow ones (5-minute rates).",
                       [target(f"job:slo_prediction_requests:rate5m{{{job}}}", "all"),
                        target(f"job:slo_prediction_errors:rate5m{{{job}}}", "5xx"),
                        target(f"job:slo_prediction_slow:rate5m{{{job}}}", "over 500 ms")], unit="reqps",
                       links=[jaeger_link("500 responses in Jaeger", tags=SERVER_ERROR)]), 12, 8)
    return dashboard("mlotel-slo", "mlotel / SLOs",
                     "Availability (99.9 %) and latency (p95 < 500 ms) objectives of the "
                     "prediction routes: SLIs, error budgets, burn rates (docs/dashboards.md).",
                     ["slo"], [JOB, SERVICE, JAEGER], lay,
                     [("Service overview", "mlotel-service-overview"), ("Model quality", "mlotel-model-quality")])


def generative():
    """Generative models (docs/genai.md): the server side of the demo's chat endpoint (job
    $job) and, below, the client side of callers instrumented with mlotel (job $client_job,
    loadgen's chat scenario in the demo)."""
    sel = 'job="$job", gen_ai_request_model=~"$genai_model"'
    client = 'job="$client_job", gen_ai_request_model=~"$genai_model"'

    def quantiles(metric, selector, by=""):
        group = f"le, {by}" if by else "le"
        suffix = f" {{{{{by}}}}}" if by else ""
        return [target(f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
                       f"p{round(q * 100)}{suffix}") for q in (0.5, 0.95)]

    lay = Layout()
    lay.row("Now")
    lay.add(stat("Generations/s", "gen_ai.server.request.duration count: generations served per "
                 "second, every outcome.",
                 [target(f"sum(rate(gen_ai_server_request_duration_seconds_count{{{sel}}}[{RATE}]))")],
                 unit="reqps"), 4, 4)
    lay.add(stat("Output tokens/s", "Output tokens generated per second "
                 "(ml.gen_ai.server.token.usage, gen_ai.token.type=output).",
                 [target(f'sum(rate(ml_gen_ai_server_token_usage_sum{{{sel}, gen_ai_token_type="output"}}[{RATE}]))')]), 4, 4)
    lay.add(stat("Time to first token p95", "gen_ai.server.time_to_first_token, 95th percentile. "
                 "The objective (deploy/prometheus/rules/genai.yml): 95 % within 250 ms.",
                 [target(f"histogram_quantile(0.95, sum by (le) (rate(gen_ai_server_time_to_first_token_seconds_bucket{{{sel}}}[{RATE}])))")],
                 unit="s", thresholds=steps((None, GREEN), (0.25, RED))), 4, 4)
    lay.add(stat("Time per output token p95", "gen_ai.server.time_per_output_token, 95th percentile.",
                 [target(f"histogram_quantile(0.95, sum by (le) (rate(gen_ai_server_time_per_output_token_seconds_bucket{{{sel}}}[{RATE}])))")],
                 unit="s"), 4, 4)
    lay.add(stat("Cost per hour", "ml.gen_ai.cost.usd at the current rate, all models: US dollars "
                 "an hour, from the price table (docs/genai.md, Cost).",
                 [target(f"sum(rate(ml_gen_ai_cost_usd_total{{{sel}}}[{RATE}])) * 3600")],
                 unit="currencyUSD"), 4, 4)
    lay.add(stat("Cost, last 24 h / daily budget", "job:genai_cost_usd:increase1d over "
                 "genai:daily_cost_budget_usd (deploy/prometheus/rules/genai.yml): 1 = the budget "
                 "is spent. GenAiDailyCostBudget pages above 1.",
                 [target('job:genai_cost_usd:increase1d{job="$job"} / on() group_left() genai:daily_cost_budget_usd')],
                 unit="percentunit", thresholds=steps((None, GREEN), (0.8, YELLOW), (1, RED))), 4, 4)

    lay.row("Tokens")
    lay.add(timeseries("Tokens/s by model and type", "Input and output tokens per second "
                       "(ml.gen_ai.server.token.usage), by requested model.",
                       [target(f"sum by (gen_ai_request_model, gen_ai_token_type) (rate(ml_gen_ai_server_token_usage_sum{{{sel}}}[{RATE}]))",
                               "{{gen_ai_request_model}} {{gen_ai_token_type}}")]), 12, 8)
    lay.add(timeseries("Output tokens per generation, p50 / p95", "Distribution of "
                       "ml.gen_ai.server.token.usage (output) per generation.",
                       [target(f'histogram_quantile({q}, sum by (le) (rate(ml_gen_ai_server_token_usage_bucket{{{sel}, gen_ai_token_type="output"}}[{RATE}])))',
                               f"p{round(q * 100)}") for q in (0.5, 0.95)]), 12, 8)

    lay.row("Latency")
    lay.add(timeseries("Time to first token p50 / p95", "gen_ai.server.time_to_first_token: from "
                       "the request to the first generated token (streamed generations that "
                       "succeeded). Line at the 250 ms objective.",
                       quantiles("gen_ai_server_time_to_first_token_seconds", sel), unit="s",
                       thresholds=steps((None, GREEN), (0.25, RED)), threshold_lines=True), 8, 8)
    lay.add(timeseries("Time per output token p50 / p95", "gen_ai.server.time_per_output_token: "
                       "(duration − time to first token) / (output tokens − 1), per generation.",
                       quantiles("gen_ai_server_time_per_output_token_seconds", sel), unit="s"), 8, 8)
    lay.add(timeseries("Generation duration p50 / p95", "gen_ai.server.request.duration: the whole "
                       "generation, first token to last.",
                       quantiles("gen_ai_server_request_duration_seconds", sel), unit="s"), 8, 8)
    lay.add(timeseries("Time-to-first-token objective: slow share", "job:genai_ttft_slow:ratio_rate"
                       "<window>: share of generations over 250 ms to their first token. The "
                       "budget is 5 %; GenAiTimeToFirstTokenBudgetBurn pages at 14.4x (1h/5m) "
                       "and 6x (6h/30m).",
                       [target(f'job:genai_ttft_slow:ratio_rate{w}{{job="$job"}}', w) for w in ("5m", "1h")],
                       unit="percentunit", thresholds=steps((None, GREEN), (0.05, RED)),
                       threshold_lines=True, minimum=0), 24, 6)

    lay.row("Cost and finish reasons")
    lay.add(timeseries("Cost per hour per model", "ml.gen_ai.cost.usd per model at the "
                       "current rate, US dollars an hour: "
                       "sum by (gen_ai_request_model) (rate(ml_gen_ai_cost_usd_total[5m])) * 3600.",
                       [target(f"sum by (gen_ai_request_model) (rate(ml_gen_ai_cost_usd_total{{{sel}}}[{RATE}])) * 3600",
                               "{{gen_ai_request_model}}")], unit="currencyUSD"), 8, 8)
    lay.add(timeseries("Unpriced tokens/s", "ml.gen_ai.unpriced.tokens: tokens of models the "
                       "price table does not list (their cost is unknown, never guessed). 0 "
                       "when every model is priced.",
                       [target(f"sum by (gen_ai_request_model) (rate(ml_gen_ai_unpriced_tokens_total{{{sel}}}[{RATE}])) "
                               "or vector(0)", "{{gen_ai_request_model}}")],
                       thresholds=steps((None, GREEN), (0.001, YELLOW))), 8, 8)
    lay.add(timeseries("Finish reasons/s", "ml.gen_ai.finish_reasons: why generations stopped "
                       "(stop, length = cut at max_tokens, content_filter, ...; _OTHER for "
                       "the rest).",
                       [target(f"sum by (ml_gen_ai_finish_reason) (rate(ml_gen_ai_finish_reasons_total{{{sel}}}[{RATE}]))",
                               "{{ml_gen_ai_finish_reason}}")], unit="reqps"), 8, 8)

    lay.row("Client side (callers instrumented with mlotel)")
    lay.add(timeseries("Client: time to first chunk p50 / p95", "gen_ai.client.operation."
                       "time_to_first_chunk as the callers see it (job $client_job): the "
                       "server's time to first token plus the network and the HTTP stack.",
                       quantiles("gen_ai_client_operation_time_to_first_chunk_seconds", client), unit="s"), 8, 8)
    lay.add(timeseries("Client: time per output chunk p50 / p95", "gen_ai.client.operation."
                       "time_per_output_chunk: the gap between consecutive chunks as received.",
                       quantiles("gen_ai_client_operation_time_per_output_chunk_seconds", client), unit="s"), 8, 8)
    lay.add(timeseries("Client: cost per hour per model", "ml.gen_ai.cost.usd of the callers, "
                       "from their own price table: compare with the server's.",
                       [target(f"sum by (gen_ai_request_model) (rate(ml_gen_ai_cost_usd_total{{{client}}}[{RATE}])) * 3600",
                               "{{gen_ai_request_model}}")], unit="currencyUSD"), 8, 8)

    variables = [
        JOB,
        var_query("genai_model", "Model", 'label_values(gen_ai_server_request_duration_seconds_count{job="$job"}, gen_ai_request_model)',
                  multi=True, description="gen_ai.request.model of the generations (All by default)."),
        var_query("client_job", "Client job", "label_values(gen_ai_client_operation_duration_seconds_count, job)",
                  description="The job of the callers' metrics (loadgen in the demo, through the Collector)."),
    ]
    return dashboard("mlotel-generative", "mlotel / Generative",
                     "Generative models (GenAI semantic conventions v1.41.0): tokens, time to "
                     "first token, time per output token, cost per model, finish reasons; "
                     "server and client side (docs/genai.md, docs/dashboards.md).",
                     ["genai"], variables, lay,
                     [("Service overview", "mlotel-service-overview"), ("SLOs", "mlotel-slo")])


DASHBOARDS = {"service-overview.json": service_overview, "model-quality.json": model_quality, "slo.json": slo,
              "generative.json": generative}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    os.makedirs(OUT, exist_ok=True)
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        path = os.path.join(OUT, name)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {os.path.relpath(path)}")
    if stale:
        print("stale (run python3 deploy/grafana/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
