#!/usr/bin/env python3
"""Checks the compose stack's files that have no checker of their own on this machine.

    python3 scripts/check_stack_config.py

- docker-compose.yml against the Compose Specification's JSON schema (the one Debian's
  docker-compose package ships), plus: every bind-mounted path and build file exists,
  every port is bound to 127.0.0.1, every image is pinned to a version;
- deploy/otel-collector/*.yaml and examples/*.yaml: a STRUCTURAL check, not the
  collector's own validation (no collector binary here): every pipeline names receivers,
  processors and exporters that are defined, every defined component is used, every
  component type is one otelcol-contrib has, memory_limiter comes first, endpoints are
  host:port;
- deploy/grafana/provisioning: the YAML parses, data source uids are unique, the dashboard
  provider's path is where docker-compose.yml mounts deploy/grafana/dashboards, and every
  dashboard refers only to provisioned data source uids or ${DS_PROMETHEUS};
- deploy/predictor/Dockerfile: the final stage runs as a non-root USER with a HEALTHCHECK,
  and each COPY --from names an earlier stage.

Exits 1 naming the file and key of the first problems found. Needs PyYAML and jsonschema
(Debian: python3-yaml, python3-jsonschema, which docker-compose pulls in).
"""

import glob
import json
import os
import re
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def load_yaml(relative):
    with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
        return yaml.safe_load(f)


def compose_schema():
    try:
        import compose  # Debian's docker-compose (1.29) ships the spec's schema
    except ImportError:
        compose = None
    candidates = []
    if compose is not None:
        candidates.append(os.path.join(os.path.dirname(compose.__file__), "config", "compose_spec.json"))
    candidates += glob.glob("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
    for path in candidates:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return path, json.load(f)
    raise SystemExit("check_stack_config: no compose_spec.json (install docker-compose: apt-get install docker-compose)")


def check_compose():
    where = "docker-compose.yml"
    spec = load_yaml(where)
    schema_path, schema = compose_schema()
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(spec), key=lambda e: list(e.path)):
        problem(where, f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message} (schema {schema_path})")
    for name, service in spec.get("services", {}).items():
        at = f"{where}: services.{name}"
        image = service.get("image")
        if image and "build" not in service:
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            if not tag or tag == "latest":
                problem(at, f"image {image} is not pinned to a version")
        build = service.get("build")
        if build:
            context = os.path.join(ROOT, build.get("context", "."))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problem(at, f"build file {os.path.relpath(dockerfile, ROOT)} does not exist")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problem(at, f"port {port} is not bound to 127.0.0.1")
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                if not os.path.exists(os.path.join(ROOT, source)):
                    problem(at, f"mounts {source}, which does not exist")
            elif source not in spec.get("volumes", {}):
                problem(at, f"volume {source} is not declared under volumes:")
        for dependency in service.get("depends_on", {}):
            if dependency not in spec["services"]:
                problem(at, f"depends on unknown service {dependency}")
    return spec


# Component types of otelcol-contrib that these configs use (the part before "/").
CONTRIB = {
    "receivers": {"otlp", "prometheus", "hostmetrics"},
    "processors": {"memory_limiter", "batch", "tail_sampling", "resource", "attributes",
                   "k8sattributes", "resourcedetection", "filter", "transform", "probabilistic_sampler"},
    "exporters": {"otlp", "otlphttp", "prometheus", "prometheusremotewrite", "loadbalancing",
                  "awsemf", "awsxray", "debug"},
    "extensions": {"health_check", "pprof", "zpages", "sigv4auth", "basicauth", "bearertokenauth"},
    "connectors": {"spanmetrics", "forward"},
}
ENDPOINT = re.compile(r"^(\[[0-9a-f:]+\]|[A-Za-z0-9_.${}:-]+):\d+$")


def check_collector(relative):
    config = load_yaml(relative)
    if not isinstance(config, dict):
        problem(relative, "not a YAML mapping")
        return
    service = config.get("service", {})
    used = {kind: set() for kind in CONTRIB}
    for name in service.get("extensions", []):
        used["extensions"].add(name)
        if name not in (config.get("extensions") or {}):
            problem(relative, f"service.extensions: {name} is not defined under extensions:")
    for pipeline_name, pipeline in (service.get("pipelines") or {}).items():
        at = f"{relative}: service.pipelines.{pipeline_name}"
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problem(at, "needs receivers and exporters")
        processors = pipeline.get("processors", [])
        if processors and processors[0].split("/")[0] != "memory_limiter":
            problem(at, "memory_limiter must come first among the processors")
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                defined = config.get(kind) or {}
                connectors = config.get("connectors") or {}
                if name in connectors and kind in ("receivers", "exporters"):
                    used["connectors"].add(name)
                    continue
                used[kind].add(name)
                if name not in defined:
                    problem(at, f"{kind}: {name} is not defined under {kind}:")
    for kind, allowed in CONTRIB.items():
        for name, settings in (config.get(kind) or {}).items():
            at = f"{relative}: {kind}.{name}"
            if name.split("/")[0] not in allowed:
                problem(at, f"unknown {kind[:-1]} type {name.split('/')[0]} (not in the otelcol-contrib list of this check)")
            if name not in used[kind]:
                problem(at, "defined but used by no pipeline")
            for key, value in walk(settings or {}):
                if (key == "endpoint" and isinstance(value, str) and "://" not in value
                        and "${" not in value and not ENDPOINT.match(value)):
                    problem(at, f"endpoint {value!r} is not host:port")


def walk(node, key=None):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, key)
    else:
        yield key, node


def check_grafana(compose_spec):
    where = "deploy/grafana/provisioning/datasources/datasources.yml"
    sources = load_yaml(where).get("datasources", [])
    uids = [s.get("uid") for s in sources]
    if len(set(uids)) != len(uids) or None in uids:
        problem(where, f"data source uids must be set and unique: {uids}")
    for source in sources:
        for key in ("datasourceUid",):
            for k, value in walk(source):
                if k == key and value not in uids:
                    problem(where, f"{source.get('name')}: {key} {value} is not a provisioned uid")
    where = "deploy/grafana/provisioning/dashboards/dashboards.yml"
    providers = load_yaml(where).get("providers", [])
    mounts = {}
    for volume in compose_spec["services"]["grafana"].get("volumes", []):
        parts = str(volume).split(":")
        if parts[0].startswith("."):
            mounts[parts[1]] = os.path.normpath(os.path.join(ROOT, parts[0]))
    for provider in providers:
        path = provider.get("options", {}).get("path")
        if path not in mounts:
            problem(where, f"provider {provider.get('name')}: {path} is not mounted by docker-compose.yml's grafana service")
            continue
        dashboards = glob.glob(os.path.join(mounts[path], "*.json"))
        if not dashboards:
            problem(where, f"provider {provider.get('name')}: no dashboards in {os.path.relpath(mounts[path], ROOT)}")
        for dashboard in dashboards:
            with open(dashboard, encoding="utf-8") as f:
                text = f.read()
            for uid in set(re.findall(r'"uid":\s*"([^"]+)"', text)):
                if uid.startswith("mlotel-") or uid == "${DS_PROMETHEUS}" or uid in uids:
                    continue
                problem(os.path.relpath(dashboard, ROOT), f"refers to data source uid {uid}, which is not provisioned")


def check_dockerfile(relative):
    with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    stages, final = [], []
    for line in lines:
        if line.upper().startswith("FROM "):
            match = re.search(r"\bAS\s+(\S+)", line, re.I)
            stages.append(match.group(1) if match else None)
            final = []
        final.append(line)
        match = re.match(r"COPY\s+--from=(\S+)", line, re.I)
        if match and match.group(1) not in stages[:-1]:
            problem(relative, f"COPY --from={match.group(1)} names no earlier stage")
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problem(relative, "the final stage must switch to a non-root USER")
    if not any(line.upper().startswith("HEALTHCHECK ") for line in final):
        problem(relative, "the final stage has no HEALTHCHECK")


def main():
    spec = check_compose()
    for relative in sorted(glob.glob(os.path.join(ROOT, "deploy/otel-collector/**/*.yaml"), recursive=True)):
        check_collector(os.path.relpath(relative, ROOT))
    check_grafana(spec)
    check_dockerfile("deploy/predictor/Dockerfile")
    for line in problems:
        print(f"stack config: {line}", file=sys.stderr)
    if problems:
        return 1
    print("stack config: ok (compose schema and paths, collector configs, Grafana provisioning, Dockerfile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
