#!/usr/bin/env python3
"""Every Prometheus query of Grafana dashboards, with the variables substituted.

    scripts/dashboard_queries.py [--var name=value ...] DASHBOARD.json ...
        prints one JSON line per query: {"dashboard", "panel", "ref", "expr"} and
        "exemplar": true for a query whose exemplars the panel draws, the query
        variables' label_values(selector, label) included as count by (label) (selector)
    scripts/dashboard_queries.py --logsql [--var name=value ...] DASHBOARD.json ...
        the same for the LogsQL queries of the log panels (VictoriaLogs data source, uid
        victorialogs), with their "query_type" (statsRange or instant)
    scripts/dashboard_queries.py --check DASHBOARD.json ...
        lints the dashboards (exit 1 with the dashboard and panel named):
        - a uid, schemaVersion 39 or later, __inputs (DS_PROMETHEUS) and __requires for a
          hand import, a data-source variable DS_PROMETHEUS (query prometheus) for
          provisioning; unique uids, and links /d/<uid> that resolve among the files given;
        - unique panel ids (nested rows' panels included), a gridPos on every panel;
        - every panel but rows, text, news and dashboard lists has at least one query;
          every query's, panel's and query variable's data source is ${DS_PROMETHEUS}, but
          for the log panels, whose panel and queries are all the VictoriaLogs data source
          (uid victorialogs) with a queryType of statsRange (a `| stats` pipe) or instant;
        - every metric a query names is documented (docs/metrics.md or docs/genai.md,
          Prometheus form), a recording rule of deploy/prometheus/rules, or one of
          Prometheus's own (up, ALERTS);
        - every variable a query uses is defined, and none is left after substitution.

Substitution (what Grafana does, with the demo's values by default): $job -> predictor,
$model -> iris, $service -> predictor, $method -> psi, $client_job -> loadgen, multi-value
variables ($version, $feature, $genai_model) -> .* (their "All" value), $__rate_interval -> 1m, $__interval -> 15s,
$__range -> 5m; ${DS_PROMETHEUS} is a data source, not part of an expression, and is never
touched. --var name=value overrides any of them. For a multi-value variable (one with
"multi" or "includeAll") the value is what Grafana's Prometheus data source writes into a
query: `All` (or $__all) -> the variable's allValue (.*); `a,b` -> the regex alternation
(a|b), each value regex-escaped as Grafana does (`1.0.0,2.0.0` -> (1\\.0\\.0|2\\.0\\.0),
which PromQL reads as the regex (1\.0\.0|2\.0\.0)); a single value -> that value, escaped.
Other variables take the value as given. Exit 1, naming the dashboard and panel, when a
panel (but rows, text, news and dashboard lists) has no Prometheus query, or when a
variable is left without a value.

The end-to-end test (scripts/stack_e2e.py) runs the printed queries against a real
Prometheus and asserts that each returns data.
"""

import argparse
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULTS = {
    "job": "predictor", "model": "iris", "service": "predictor", "version": ".*",
    "feature": ".*", "method": "psi", "jaeger_url": "http://localhost:16686",
    "genai_model": ".*", "client_job": "loadgen",
    "__rate_interval": "1m", "__interval": "15s", "__range": "5m",
}
BUILTIN_METRICS = {"up", "ALERTS", "ALERTS_FOR_STATE", "vector", "scalar",
                   "scrape_duration_seconds", "scrape_samples_scraped"}
NO_QUERY_PANELS = {"row", "text", "news", "dashlist"}  # panels that query no data source
REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|{}\[\]]")
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "rate", "irate", "increase", "histogram_quantile",
    "sum_over_time", "max_over_time", "min_over_time", "avg_over_time", "label_values",
    "bool", "offset", "abs", "clamp_min", "clamp_max", "topk", "bottomk", "time", "le",
    "label_replace", "label_join", "group", "quantile", "stddev", "count_values",
}
VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")
LOGS_DS = {"type": "victoriametrics-logs-datasource", "uid": "victorialogs"}
LOGS_QUERY_TYPES = {"statsRange", "instant"}


def is_logsql(node):
    """Whether a panel or target uses the log store's data source."""
    return (node.get("datasource") or {}).get("type") == LOGS_DS["type"]


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep theirs inside


def queries_of(dashboard):
    """(panel title, refId, expr) of every Prometheus target."""
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel, target


def grafana_value(variable, value):
    """The text Grafana's Prometheus data source puts in a query for `value` of `variable`
    (a templating entry): multi-value variables are regex-escaped (backslashes doubled, as
    inside a PromQL string), several values joined as (a|b), All as the allValue."""
    if not (variable.get("multi") or variable.get("includeAll")):
        return value
    if value in ("All", "$__all"):
        return variable.get("allValue") or ".*"
    if value == ".*":  # the default stands for All already
        return value
    escaped = [REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), v) for v in value.split(",")]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def values_for(dashboard, overrides):
    """DEFAULTS, then --var overrides, each formatted for the dashboard's own variable."""
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    values = dict(DEFAULTS)
    for name, value in overrides.items():
        values[name] = grafana_value(variables.get(name, {}), value)
    return values


def substitute(expr, values):
    def replace(match):
        name = match.group(1)
        if name == "DS_PROMETHEUS" or name not in values:
            return match.group(0)
        return values[name]

    return VARIABLE.sub(replace, expr)


def documented_metrics():
    """Prometheus names of docs/metrics.md plus the recording rules."""
    names = set()
    for page in ("docs/metrics.md", "docs/genai.md"):
        with open(os.path.join(ROOT, page), encoding="utf-8") as doc:
            names.update(re.findall(r"`([a-z_][a-z0-9_]*)`", doc.read()))
    for path in glob.glob(os.path.join(ROOT, "deploy/prometheus/rules/*.yml")):
        with open(path, encoding="utf-8") as rules:
            names.update(re.findall(r"^\s*- record:\s*(\S+)", rules.read(), re.M))
    return names


def metric_names(expr):
    """Metric names in a PromQL expression (roughly: identifiers not followed by `(`,
    not label names, not keywords, not durations)."""
    without_strings = VARIABLE.sub("", re.sub(r'"[^"]*"', '""', expr))
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges):
        word = match.group(0)
        rest = without_ranges[match.end():].lstrip()
        if word in PROMQL_WORDS or rest.startswith("("):
            continue
        names.add(word)
    # {__name__=~"a_(b|c)_total"}: expand the alternation of a selector by name regex.
    for regex in re.findall(r'__name__=~"([^"]+)"', expr):
        match = re.fullmatch(r"([a-z_]*)\(([a-z_|]+)\)([a-z_]*)", regex)
        if match:
            names.update(match.group(1) + alt + match.group(3) for alt in match.group(2).split("|"))
    return names


def is_known(metric, known):
    """Documented as is, or a histogram's series (`_bucket`, `_count`, `_sum`)."""
    base = re.sub(r"_(bucket|count|sum)$", "", metric)
    return metric in known or base in known or metric in BUILTIN_METRICS


def check(paths):
    problems = []
    known = documented_metrics()
    uids, links = {}, []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        name = os.path.basename(path)
        defined = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
        defined |= {"__rate_interval", "__interval", "__range", "__url_time_range",
                    "__all_variables", "__field", "__value"}
        ids = [p.get("id") for p in panels_of(dashboard)]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            problems.append(f"{name}: duplicate panel ids {sorted(duplicates)}")
        if "DS_PROMETHEUS" not in {i.get("name") for i in dashboard.get("__inputs", [])}:
            problems.append(f"{name}: no __inputs entry for DS_PROMETHEUS (hand import)")
        if not dashboard.get("__requires"):
            problems.append(f"{name}: no __requires (hand import)")
        if not dashboard.get("uid"):
            problems.append(f"{name}: no uid (links and provisioning need a stable one)")
        if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 39:
            problems.append(f"{name}: schemaVersion {dashboard.get('schemaVersion')}, want 39 or later (Grafana 11)")
        variables = dashboard.get("templating", {}).get("list", [])
        if not any(v.get("name") == "DS_PROMETHEUS" and v.get("type") == "datasource"
                   and v.get("query") == "prometheus" for v in variables):
            problems.append(f"{name}: no data-source variable DS_PROMETHEUS (query prometheus): "
                            "provisioning would leave ${DS_PROMETHEUS} unresolved")
        for variable in variables:
            if variable.get("type") == "query":
                if (variable.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
                    problems.append(f"{name}: variable {variable.get('name')}: data source is not ${{DS_PROMETHEUS}}")
                for used in VARIABLE.findall(variable.get("definition") or ""):
                    if used not in {v.get("name") for v in variables}:
                        problems.append(f"{name}: variable {variable.get('name')} uses undefined ${used}")
        uids[dashboard.get("uid")] = name
        for link in dashboard.get("links", []):
            match = re.match(r"/d/([^/?]+)", link.get("url", ""))
            if match:
                links.append((name, match.group(1)))
        for panel in panels_of(dashboard):
            title = panel.get("title", "?")
            if "gridPos" not in panel:
                problems.append(f"{name} / {title}: no gridPos")
            if panel.get("type") in NO_QUERY_PANELS:
                continue
            targets = [t for t in panel.get("targets", []) if t.get("expr")]
            if not targets:
                problems.append(f"{name} / {title}: no query")
            if is_logsql(panel):
                for target in targets:
                    where = f"{name} / {title} [{target.get('refId')}]"
                    if target.get("datasource") != LOGS_DS or panel["datasource"] != LOGS_DS:
                        problems.append(f"{where}: a log panel's data source and queries must all be {LOGS_DS}")
                    if target.get("queryType") not in LOGS_QUERY_TYPES:
                        problems.append(f"{where}: queryType {target.get('queryType')!r}, want one of {sorted(LOGS_QUERY_TYPES)}")
                    elif (target["queryType"] == "statsRange") != ("| stats" in target["expr"]):
                        problems.append(f"{where}: statsRange goes with a `| stats` pipe, instant without")
                    for variable in VARIABLE.findall(target["expr"]):
                        if variable not in defined:
                            problems.append(f"{where}: undefined variable ${variable}")
                continue
            if (panel.get("datasource") or {}).get("uid") not in (None, "${DS_PROMETHEUS}"):
                problems.append(f"{name} / {title}: panel data source is not ${{DS_PROMETHEUS}}")
            for target in targets:
                where = f"{name} / {title} [{target.get('refId')}]"
                if target.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                    problems.append(f"{where}: data source is not ${{DS_PROMETHEUS}}")
                for variable in VARIABLE.findall(target["expr"]):
                    if variable not in defined:
                        problems.append(f"{where}: undefined variable ${variable}")
                for metric in sorted(m for m in metric_names(target["expr"]) if not is_known(m, known)):
                    problems.append(f"{where}: {metric} is neither in docs/metrics.md nor a recording rule")
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("definition") or ""
            for metric in re.findall(r"label_values\((\w+)", query):
                if not is_known(metric, known):
                    problems.append(f"{name}: variable {variable['name']} reads undocumented {metric}")
    if len(uids) < len(paths):
        problems.append("two dashboards share a uid")
    for name, uid in links:
        if len(paths) > 1 and uid not in uids:
            problems.append(f"{name}: links to /d/{uid}, which none of the dashboards checked has")
    for problem in problems:
        print(f"dashboard check: {problem}", file=sys.stderr)
    if not problems:
        count = sum(1 for path in paths for _ in queries_of(json.load(open(path, encoding="utf-8"))))
        print(f"dashboards: ok ({len(paths)} dashboards, {count} queries)")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dashboards", nargs="+")
    parser.add_argument("--check", action="store_true", help="lint instead of printing")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--logsql", action="store_true",
                        help="print the log panels' LogsQL queries instead of the PromQL ones")
    args = parser.parse_args()
    if args.check:
        return check(args.dashboards)
    overrides = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--var {item}: expected NAME=VALUE")
        overrides[name.lstrip("$")] = value
    status = 0
    for path in args.dashboards:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        values = values_for(dashboard, overrides)
        name = os.path.basename(path)

        def emit(panel_title, ref, expr, query_type=None, exemplar=False):
            nonlocal status
            expr = substitute(expr, values)
            left = [v for v in VARIABLE.findall(expr) if v != "DS_PROMETHEUS"]
            if left:
                print(f"{name} / {panel_title}: ${left[0]} has no value (give --var {left[0]}=...)",
                      file=sys.stderr)
                status = 1
                return
            query = {"dashboard": dashboard.get("title"), "panel": panel_title, "ref": ref, "expr": expr}
            if query_type:
                query["query_type"] = query_type
            if exemplar:
                query["exemplar"] = True
            print(json.dumps(query))

        # A query variable's label_values(selector, label) lists the label's values: as
        # PromQL, `count by (label) (selector)`, which must return series too.
        for variable in dashboard.get("templating", {}).get("list", []):
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable.get("definition") or "")
            if variable.get("type") == "query" and match and not args.logsql:
                emit(f"variable ${variable['name']}", "-",
                     f"count by ({match.group(2)}) ({match.group(1)})")
        for panel in panels_of(dashboard):
            if panel.get("type") in NO_QUERY_PANELS:
                continue
            targets = [t for t in panel.get("targets", []) if (t.get("expr") or "").strip()]
            if not targets:
                print(f"{name} / {panel.get('title')}: no query", file=sys.stderr)
                status = 1
            if is_logsql(panel) != args.logsql:
                continue
            for target in targets:
                emit(panel.get("title"), target.get("refId"), target["expr"],
                     target.get("queryType") if args.logsql else None, bool(target.get("exemplar")))
    return status


if __name__ == "__main__":
    sys.exit(main())
