#!/usr/bin/env python3
"""Checks the compose stack's files that have no checker of their own on this machine.

    python3 scripts/check_stack_config.py              # the checks
    python3 scripts/check_stack_config.py --self-test  # proves each check catches its mistake

- docker-compose.yml against the Compose Specification's JSON schema (the one Debian's
  docker-compose package ships), plus: every bind-mounted path and build file exists,
  container paths named in the environment exist through their mount, every port is bound
  to 127.0.0.1, every image is pinned to a version, every service has a healthcheck unless
  its image has none to run (listed below) or the built image has a HEALTHCHECK;
- deploy/versions.env: every image of docker-compose.yml whose program it pins has the tag
  ${NAME:-default} with the file's value as the default (so has every ${NAME_VERSION:-default}
  in a service's environment: Grafana's VictoriaLogs plugin), and the Go modules that
  scripts/stack-binaries.sh builds (deploy/otel-collector, deploy/stack-build/*) require
  the same releases;
- deploy/otel-collector/*.yaml and examples/*.yaml: a STRUCTURAL check beside the
  collector's own `otelcol validate` (scripts/check-deploy.sh): every pipeline names
  receivers, processors and exporters that are defined, every defined component is used,
  every component type is one of our distribution (deploy/otel-collector/components.go)
  or of the short list it leaves out, and the distribution has no component that no config
  uses, memory_limiter comes first, endpoints are host:port;
- deploy/grafana/provisioning: the YAML parses, data source uids are unique, the dashboard
  provider's path is where docker-compose.yml mounts deploy/grafana/dashboards, and every
  dashboard there parses and refers only to provisioned data source uids or
  ${DS_PROMETHEUS} (an empty dashboards directory passes);
- deploy/predictor/Dockerfile: every image pinned, COPY sources exist in the build
  context and are not left out by .dockerignore, each COPY --from names an earlier stage,
  the final stage runs as a non-root USER with a HEALTHCHECK, and the rust builder image
  is at least the newest rust-version among the predictor's locked dependencies (from
  `cargo metadata --locked`, which fetches the crates it lacks; skipped with a note when cargo
  is missing).

Exits 1 naming the file and key of each problem found. Needs PyYAML and jsonschema
(Debian: python3-yaml, python3-jsonschema, which docker-compose pulls in).
"""

import copy
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Images without a shell or HTTP client to run a healthcheck with (the binary alone);
# docker-compose.yml says so next to each, and their health ports serve checks from outside.
NO_HEALTHCHECK_IMAGES = ("otel/opentelemetry-collector-contrib:",)

# deploy/versions.env key of each image's tag, and the tag's text around it.
IMAGE_VERSIONS = {
    "jaegertracing/jaeger": ("JAEGER_VERSION", ""),
    "otel/opentelemetry-collector-contrib": ("OTELCOL_VERSION", ""),
    "prom/prometheus": ("PROMETHEUS_VERSION", "v"),
    "prom/alertmanager": ("ALERTMANAGER_VERSION", "v"),
    "grafana/grafana": ("GRAFANA_VERSION", ""),
    "victoriametrics/victoria-logs": ("VICTORIALOGS_VERSION", "v"),
    "mendhak/http-https-echo": ("WEBHOOK_ECHO_VERSION", ""),
}
# The Go modules scripts/stack-binaries.sh builds: (go.mod, module, versions.env key, prefix).
GO_MODULE_PINS = (
    ("deploy/stack-build/jaeger/go.mod", "github.com/jaegertracing/jaeger", "JAEGER_MODULE_VERSION", ""),
    ("deploy/otel-collector/go.mod", "go.opentelemetry.io/collector/otelcol", "OTELCOL_VERSION", "v"),
    ("deploy/stack-build/prometheus/go.mod", "github.com/prometheus/prometheus", "PROMETHEUS_MODULE_VERSION", ""),
    ("deploy/stack-build/alertmanager/go.mod", "github.com/prometheus/alertmanager", "ALERTMANAGER_VERSION", "v"),
    ("deploy/stack-build/victorialogs/go.mod", "github.com/VictoriaMetrics/VictoriaLogs", "VICTORIALOGS_VERSION", "v"),
)
IMAGE_TAG = re.compile(r"^(?P<repo>[^:]+):(?P<prefix>[^$]*)\$\{(?P<key>[A-Z_]+):-(?P<default>[^}]+)\}$")
PINNED_DEFAULT = re.compile(r"\$\{([A-Z_]+):-([^}]+)\}")
DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def read_versions(text):
    """KEY=VALUE lines of deploy/versions.env."""
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z_]+=", line))


def go_requires(text):
    """{module: version} of a go.mod's require lines."""
    found = {}
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["require"]:
            words = words[1:]
        if len(words) >= 2 and "." in words[0] and words[1].startswith("v"):
            found[words[0]] = words[1]
    return found


def check_versions(spec, versions, go_mods):
    """go_mods: {go.mod path: text}."""
    problems = []
    where = "deploy/versions.env"
    for service_name, service in (spec.get("services") or {}).items():
        image = service.get("image") or ""
        repo = image.split(":")[0]
        if repo not in IMAGE_VERSIONS:
            continue
        key, prefix = IMAGE_VERSIONS[repo]
        at = f"docker-compose.yml: services.{service_name}.image {image}"
        match = IMAGE_TAG.match(image)
        if not match or match["key"] != key or match["prefix"] != prefix:
            problems.append(f"{at}: the tag must be {prefix}${{{key}:-...}} (deploy/versions.env)")
            continue
        if key not in versions:
            problems.append(f"{where}: no {key} (docker-compose.yml's {service_name} reads it)")
        elif match["default"] != versions[key]:
            problems.append(f"{at}: default {match['default']} disagrees with {where}'s {key}={versions[key]}")
        # Other pinned values in the environment (Grafana's plugin version): same rule.
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment if "=" in item)
        for env_key, value in environment.items():
            for pinned_key, default in PINNED_DEFAULT.findall(str(value)):
                if pinned_key.endswith("_VERSION") and versions.get(pinned_key) != default:
                    problems.append(f"docker-compose.yml: services.{service_name}.environment.{env_key}: "
                                    f"default {default} disagrees with {where}'s {pinned_key}={versions.get(pinned_key)}")
    for path, module, key, prefix in GO_MODULE_PINS:
        want = prefix + versions.get(key, "?")
        got = go_requires(go_mods.get(path, "")).get(module)
        if got != want:
            problems.append(f"{path}: requires {module} {got}, {where}'s {key} pins {want}")
    return problems


def interpolate_defaults(spec):
    """The spec as compose sees it with no .env: ${NAME:-default} -> default in images."""
    spec = copy.deepcopy(spec)
    for service in (spec.get("services") or {}).values():
        if isinstance(service.get("image"), str):
            service["image"] = DEFAULTED.sub(lambda m: m.group(1), service["image"])
    return spec


def read(relative):
    with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
        return f.read()


def load_yaml(relative):
    return yaml.safe_load(read(relative))


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


def pinned(image):
    """An image reference with a version tag (or a digest) other than latest."""
    if "@sha256:" in image:
        return True
    last = image.split("/")[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def bind_mounts(service):
    """{container path: host path (absolute)} of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        parts = str(volume).split(":")
        if parts[0].startswith(".") and len(parts) > 1:
            mounts[parts[1].rstrip("/")] = os.path.normpath(os.path.join(ROOT, parts[0]))
    return mounts


def check_compose(spec, schema, schema_path, where="docker-compose.yml"):
    problems = []
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(spec), key=lambda e: list(map(str, e.path))):
        problems.append(f"{where}: {'/'.join(map(str, error.path)) or '(top)'}: {error.message} (schema {schema_path})")
    services = spec.get("services") or {}
    for name, service in services.items():
        at = f"{where}: services.{name}"
        image = service.get("image")
        build = service.get("build")
        if image and not build and not pinned(image):
            problems.append(f"{at}: image {image} is not pinned to a version")
        if build:
            context = os.path.join(ROOT, build.get("context", "."))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problems.append(f"{at}: build file {os.path.relpath(dockerfile, ROOT)} does not exist")
        if "healthcheck" not in service and not build and not (image or "").startswith(NO_HEALTHCHECK_IMAGES):
            problems.append(f"{at}: no healthcheck (add one, or list the image in NO_HEALTHCHECK_IMAGES with the reason)")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{at}: port {port} is not bound to 127.0.0.1")
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                if not os.path.exists(os.path.join(ROOT, source)):
                    problems.append(f"{at}: mounts {source}, which does not exist")
            elif source not in (spec.get("volumes") or {}):
                problems.append(f"{at}: volume {source} is not declared under volumes:")
        # Container paths in the environment (Grafana's home dashboard...) exist through a mount.
        mounts = bind_mounts(service)
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment if "=" in item)
        for key, value in environment.items():
            for target, host in mounts.items():
                if isinstance(value, str) and value.startswith(target + "/"):
                    if not os.path.exists(os.path.join(host, value[len(target) + 1:])):
                        problems.append(f"{at}: environment {key}={value}: no {os.path.relpath(host, ROOT)}/{value[len(target) + 1:]}")
        for dependency in service.get("depends_on", {}):
            if dependency not in services:
                problems.append(f"{at}: depends on unknown service {dependency}")
    return problems


# Our Collector distribution (deploy/otel-collector/components.go): each kind's factories
# are listed in an otelcol.MakeFactoryMap[<kind>.Factory](...) call; a component's type is
# its package name less the kind, except where the package name differs from the type.
KINDS = {"receiver": "receivers", "processor": "processors", "exporter": "exporters",
         "extension": "extensions", "connector": "connectors"}
PACKAGE_TYPES = {"memorylimiterprocessor": "memory_limiter", "tailsamplingprocessor": "tail_sampling",
                 "healthcheckextension": "health_check"}
# Components that configs may name although the distribution leaves them out, and why.
LEFT_OUT = {
    "exporters": {
        "awsemf": "examples/aws-cloudwatch.yaml; needs AWS modules the Go module proxy does not serve",
        "awsxray": "examples/aws-cloudwatch.yaml; needs AWS modules the Go module proxy does not serve",
    },
}
FACTORY_MAP = re.compile(r"MakeFactoryMap\[(\w+)\.Factory\]\((.*?)\)\s*;", re.S)


def distribution_components(source):
    """{kind: {type}} of components.go."""
    found = {kind: set() for kind in KINDS.values()}
    for kind, body in FACTORY_MAP.findall(source):
        for package in re.findall(r"(\w+)\.NewFactory\(\)", body):
            found[KINDS[kind]].add(PACKAGE_TYPES.get(package, package.removesuffix(kind)))
    return found


def check_distribution(components, configs):
    """Every component of the distribution is used by some config: exactly what they need."""
    used = {kind: set() for kind in KINDS.values()}
    for config in configs.values():
        for kind in used:
            used[kind] |= {name.split("/")[0] for name in (config or {}).get(kind) or {}}
    return [f"deploy/otel-collector/components.go: {kind[:-1]} {name} is used by no collector config; remove it"
            for kind, names in components.items() for name in sorted(names - used[kind])]


ENDPOINT = re.compile(r"^(\[[0-9a-f:]+\]|[A-Za-z0-9_.-]+):\d+$")


def check_collector(where, config, components):
    problems = []
    if not isinstance(config, dict):
        return [f"{where}: not a YAML mapping"]
    service = config.get("service") or {}
    connectors = config.get("connectors") or {}
    used = {kind: set() for kind in components}
    for name in service.get("extensions") or []:
        used["extensions"].add(name)
        if name not in (config.get("extensions") or {}):
            problems.append(f"{where}: service.extensions: {name} is not defined under extensions:")
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append(f"{where}: service.pipelines: none")
    for pipeline_name, pipeline in pipelines.items():
        at = f"{where}: service.pipelines.{pipeline_name}"
        pipeline = pipeline or {}
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problems.append(f"{at}: needs receivers and exporters")
        processors = pipeline.get("processors") or []
        if processors and processors[0].split("/")[0] != "memory_limiter":
            problems.append(f"{at}.processors: memory_limiter must come first, not {processors[0]}")
        if not processors or "memory_limiter" not in [p.split("/")[0] for p in processors]:
            problems.append(f"{at}.processors: no memory_limiter")
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind) or []:
                if name in connectors and kind in ("receivers", "exporters"):
                    used["connectors"].add(name)
                    continue
                used[kind].add(name)
                if name not in (config.get(kind) or {}):
                    problems.append(f"{at}.{kind}: {name} is not defined under {kind}:")
    for kind, allowed in components.items():
        for name, settings in (config.get(kind) or {}).items():
            at = f"{where}: {kind}.{name}"
            component_type = name.split("/")[0]
            if component_type not in allowed and component_type not in LEFT_OUT.get(kind, {}):
                problems.append(f"{at}: unknown {kind[:-1]} type {component_type} (not in deploy/otel-collector/components.go; "
                                "add it there, or to LEFT_OUT here with the reason)")
            if name not in used[kind]:
                problems.append(f"{at}: defined but used by no pipeline")
            for path, key, value in walk(settings or {}):
                if key != "endpoint" or not isinstance(value, str):
                    continue
                if "://" in value or value.startswith("${"):
                    continue  # a URL (exporters over HTTP) or the environment's
                if not ENDPOINT.match(value):
                    problems.append(f"{at}.{path}: endpoint {value!r} is not host:port")
    for key in set(config) - {"receivers", "processors", "exporters", "extensions", "connectors", "service"}:
        problems.append(f"{where}: unknown top-level key {key}")
    return problems


def walk(node, path="", key=None):
    """(dotted path, key, value) of every leaf."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}" if path else str(k), k)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{path}[{i}]", key)
    else:
        yield path, key, node


def datasource_refs(node):
    """Every data source uid a dashboard refers to: {"datasource": {"uid": ...}} objects,
    plain-string datasource references and datasourceUid fields."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict) and "uid" in value:
                yield value["uid"]
            elif key == "datasource" and isinstance(value, str):
                yield value
            elif key == "datasourceUid" and isinstance(value, str):
                yield value
            else:
                yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def check_grafana(datasources, providers, compose_spec, dashboards_for=None):
    """dashboards_for(host dir) -> {file name: text}; defaults to the *.json files there."""
    problems = []
    where = "deploy/grafana/provisioning/datasources/datasources.yml"
    sources = (datasources or {}).get("datasources") or []
    uids = [s.get("uid") for s in sources]
    if len(set(uids)) != len(uids) or None in uids:
        problems.append(f"{where}: data source uids must be set and unique: {uids}")
    for source in sources:
        for path, key, value in walk(source):
            if key == "datasourceUid" and value not in uids:
                problems.append(f"{where}: {source.get('name')}.{path}: {value} is not a provisioned uid")
    where = "deploy/grafana/provisioning/dashboards/dashboards.yml"
    mounts = bind_mounts(compose_spec["services"]["grafana"])
    if "/etc/grafana/provisioning" not in mounts:
        problems.append("docker-compose.yml: services.grafana: deploy/grafana/provisioning is not mounted at /etc/grafana/provisioning")
    for provider in (providers or {}).get("providers") or []:
        path = (provider.get("options") or {}).get("path", "").rstrip("/")
        if path not in mounts:
            problems.append(f"{where}: provider {provider.get('name')}: options.path {path} is not mounted by docker-compose.yml's grafana service")
            continue
        host = mounts[path]
        if not os.path.isdir(host):
            problems.append(f"{where}: provider {provider.get('name')}: {os.path.relpath(host, ROOT)} is not a directory")
            continue
        if dashboards_for is None:
            files = {os.path.basename(p): open(p, encoding="utf-8").read() for p in sorted(glob.glob(os.path.join(host, "*.json")))}
        else:
            files = dashboards_for(host)
        for name, text in files.items():
            at = f"{os.path.relpath(host, ROOT)}/{name}"
            try:
                dashboard = json.loads(text)
            except json.JSONDecodeError as error:
                problems.append(f"{at}: not JSON: {error}")
                continue
            for uid in sorted(set(datasource_refs(dashboard))):
                if uid in uids or uid == "${DS_PROMETHEUS}" or uid in ("-- Grafana --", "grafana"):
                    continue
                problems.append(f"{at}: refers to data source uid {uid!r}, which is not provisioned (nor ${{DS_PROMETHEUS}})")
    return problems


def dockerignore_patterns(context):
    path = os.path.join(context, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.strip().rstrip("/") for line in f if line.strip() and not line.startswith("#")]


def ignored(relative, patterns):
    relative = relative.strip("/")
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern.replace("**/", "")):
            return True
    return False


def version_tuple(text):
    return tuple(int(part) for part in text.split(".")[:2])


def rust_needed_by_lock(package="predictor"):
    """The newest rust-version among `package`'s locked normal and build dependencies, as
    (version, [crates that need it]); None when cargo is not available."""
    if shutil.which("cargo") is None:
        return None
    output = subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    metadata = json.loads(output)
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    start = [i for i, p in packages.items() if p["name"] == package and p["source"] is None]
    seen, todo = set(), list(start)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    needs = {}
    for node in seen:
        version = packages[node].get("rust_version")
        if version:
            needs.setdefault(version_tuple(version), []).append(f"{packages[node]['name']} {packages[node]['version']}")
    if not needs:
        return (0, 0), []
    newest = max(needs)
    return newest, sorted(needs[newest])


def check_dockerfile(where, text, context, rust_needed=None):
    problems = []
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or (stripped.startswith("#") and not current):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    patterns = dockerignore_patterns(context)
    stages, final = [], []
    for line in lines:
        instruction = line.split()[0].upper()
        if instruction == "FROM":
            image = line.split()[1]
            match = re.search(r"\bAS\s+(\S+)", line, re.I)
            if image not in stages and not pinned(image):
                problems.append(f"{where}: FROM {image} is not pinned to a version")
            rust = re.match(r"rust:(\d+\.\d+)", image)
            if rust and rust_needed and version_tuple(rust.group(1)) < rust_needed[0]:
                problems.append(f"{where}: FROM {image}: the locked dependencies need rustc {'.'.join(map(str, rust_needed[0]))} ({', '.join(rust_needed[1])})")
            stages.append(match.group(1) if match else None)
            final = []
        final.append(line)
        if instruction in ("COPY", "ADD"):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            source_stage = re.search(r"--from=(\S+)", line)
            if source_stage:
                if source_stage.group(1) not in stages[:-1]:
                    problems.append(f"{where}: {instruction} --from={source_stage.group(1)} names no earlier stage")
                continue
            for source in words[:-1]:
                if source in (".", "./"):
                    continue
                # .dockerignore first: an ignored path is absent from the context whether or not
                # it exists in this checkout (target/ exists only after a build).
                if ignored(source, patterns):
                    problems.append(f"{where}: {instruction} {source}: left out of the build context by .dockerignore")
                elif not glob.glob(os.path.join(context, source)):
                    problems.append(f"{where}: {instruction} {source}: not in the build context")
    users = [line.split()[1] for line in final if line.split()[0].upper() == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{where}: the final stage must switch to a non-root USER")
    if not any(line.split()[0].upper() == "HEALTHCHECK" for line in final):
        problems.append(f"{where}: the final stage has no HEALTHCHECK")
    return problems


def collector_files():
    found = glob.glob(os.path.join(ROOT, "deploy/otel-collector/**/*.yaml"), recursive=True)
    found += glob.glob(os.path.join(ROOT, "deploy/otel-collector/**/*.yml"), recursive=True)
    return sorted(os.path.relpath(path, ROOT) for path in found)


def run_checks():
    problems = []
    spec = load_yaml("docker-compose.yml")
    schema_path, schema = compose_schema()
    problems += check_versions(spec, read_versions(read("deploy/versions.env")),
                               {path: read(path) for path, _, _, _ in GO_MODULE_PINS})
    spec = interpolate_defaults(spec)
    problems += check_compose(spec, schema, schema_path)
    components = distribution_components(read("deploy/otel-collector/components.go"))
    configs = {relative: load_yaml(relative) for relative in collector_files()}
    for relative, config in configs.items():
        problems += check_collector(relative, config, components)
    problems += check_distribution(components, configs)
    problems += check_grafana(load_yaml("deploy/grafana/provisioning/datasources/datasources.yml"),
                              load_yaml("deploy/grafana/provisioning/dashboards/dashboards.yml"), spec)
    build = spec["services"]["predictor"]["build"]
    context = os.path.join(ROOT, build.get("context", "."))
    dockerfile = os.path.relpath(os.path.join(context, build["dockerfile"]), ROOT)
    rust_needed = rust_needed_by_lock()
    if rust_needed is None:
        print("stack config: note: no cargo, the rust builder image's version is not checked against Cargo.lock")
    problems += check_dockerfile(dockerfile, read(dockerfile), context, rust_needed)
    return problems, rust_needed


def self_test():
    """Each mutation of the real files must be reported, with the words given."""
    raw_spec = load_yaml("docker-compose.yml")
    spec = interpolate_defaults(raw_spec)
    schema_path, schema = compose_schema()
    collector = load_yaml("deploy/otel-collector/config.yaml")
    components = distribution_components(read("deploy/otel-collector/components.go"))
    versions = read_versions(read("deploy/versions.env"))
    go_mods = {path: read(path) for path, _, _, _ in GO_MODULE_PINS}
    datasources = load_yaml("deploy/grafana/provisioning/datasources/datasources.yml")
    providers = load_yaml("deploy/grafana/provisioning/dashboards/dashboards.yml")
    dockerfile = read("deploy/predictor/Dockerfile")
    failures = []

    def expect(label, problems, words):
        if not any(words in p for p in problems):
            failures.append(f"{label}: expected a problem containing {words!r}, got {problems}")

    def compose_mutant(change):
        mutant = copy.deepcopy(spec)
        change(mutant)
        return check_compose(mutant, schema, schema_path)

    def collector_mutant(change):
        mutant = copy.deepcopy(collector)
        change(mutant)
        return check_collector("config.yaml", mutant, components)

    def versions_mutant(change_spec=None, change_versions=None, change_mods=None):
        mutant_spec, mutant_versions, mutant_mods = copy.deepcopy(raw_spec), dict(versions), dict(go_mods)
        for change, target_ in ((change_spec, mutant_spec), (change_versions, mutant_versions), (change_mods, mutant_mods)):
            if change:
                change(target_)
        return check_versions(mutant_spec, mutant_versions, mutant_mods)

    if check_versions(raw_spec, versions, go_mods):
        failures.append(f"versions: expected no problem, got {check_versions(raw_spec, versions, go_mods)}")
    expect("compose default differs", versions_mutant(change_spec=lambda m: m["services"]["prometheus"].update(
        image="prom/prometheus:v${PROMETHEUS_VERSION:-3.15.0}")), "disagrees with deploy/versions.env")
    expect("literal compose tag", versions_mutant(change_spec=lambda m: m["services"]["jaeger"].update(
        image="jaegertracing/jaeger:2.12.0")), "the tag must be ${JAEGER_VERSION")
    expect("versions.env moved on", versions_mutant(change_versions=lambda m: m.update(GRAFANA_VERSION="12.4.0")), "GRAFANA_VERSION=12.4.0")
    expect("plugin version in the environment differs", versions_mutant(
        change_versions=lambda m: m.update(VICTORIALOGS_DATASOURCE_VERSION="0.1.0")),
        "disagrees with deploy/versions.env's VICTORIALOGS_DATASOURCE_VERSION=0.1.0")
    expect("versions.env key missing", versions_mutant(change_versions=lambda m: m.pop("OTELCOL_VERSION")), "no OTELCOL_VERSION")
    expect("go.mod differs", versions_mutant(change_mods=lambda m: m.update({
        "deploy/stack-build/alertmanager/go.mod": m["deploy/stack-build/alertmanager/go.mod"].replace(
            "github.com/prometheus/alertmanager v0.35.0", "github.com/prometheus/alertmanager v0.34.0")})), "requires github.com/prometheus/alertmanager v0.34.0")
    expect("component not in the distribution", collector_mutant(lambda m: (m["processors"].update({"transform": {}}),
           m["service"]["pipelines"]["traces"]["processors"].append("transform"))), "not in deploy/otel-collector/components.go")
    extra = copy.deepcopy(components)
    extra["receivers"].add("zipkin")
    expect("unused component in the distribution", check_distribution(extra, {"config.yaml": collector}), "receiver zipkin is used by no collector config")
    if "tail_sampling" not in components["processors"] or "health_check" not in components["extensions"]:
        failures.append(f"components.go parsed as {components}: tail_sampling or health_check missing")

    expect("unbound port", compose_mutant(lambda m: m["services"]["grafana"].update(ports=["3000:3000"])), "not bound to 127.0.0.1")
    expect("unpinned image", compose_mutant(lambda m: m["services"]["prometheus"].update(image="prom/prometheus")), "not pinned")
    expect("latest image", compose_mutant(lambda m: m["services"]["grafana"].update(image="grafana/grafana:latest")), "not pinned")
    expect("misspelt key", compose_mutant(lambda m: m["services"]["grafana"].update(helthcheck={})), "helthcheck")
    expect("missing mount", compose_mutant(lambda m: m["services"]["prometheus"]["volumes"].append("./deploy/nothing:/x:ro")), "does not exist")
    expect("missing healthcheck", compose_mutant(lambda m: m["services"]["alertmanager"].pop("healthcheck")), "no healthcheck")
    expect("missing home dashboard", compose_mutant(lambda m: m["services"]["grafana"]["environment"].update(
        GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH="/var/lib/grafana/dashboards/nothing.json")), "nothing.json")
    expect("unknown dependency", compose_mutant(lambda m: m["services"]["grafana"]["depends_on"].update(nothing={"condition": "service_started"})), "unknown service")

    def swap_processors(m):
        m["service"]["pipelines"]["traces"]["processors"] = ["batch", "memory_limiter"]
    expect("memory_limiter second", collector_mutant(swap_processors), "memory_limiter must come first")
    expect("undefined exporter", collector_mutant(lambda m: m["service"]["pipelines"]["traces"]["exporters"].append("otlp/nowhere")), "not defined")
    expect("unused exporter", collector_mutant(lambda m: m["exporters"].update({"debug": {}})), "used by no pipeline")
    expect("unknown type", collector_mutant(lambda m: (m["exporters"].update({"jaegerthrift": {}}),
                                                       m["service"]["pipelines"]["traces"]["exporters"].append("jaegerthrift"))), "unknown exporter type")
    expect("bad endpoint", collector_mutant(lambda m: m["exporters"]["otlp/jaeger"].update(endpoint="jaeger")), "not host:port")
    expect("undefined extension", collector_mutant(lambda m: m["service"]["extensions"].append("zpages")), "not defined under extensions")

    def dashboards_with(text):
        return lambda host: {"mutant.json": text}
    bad_uid = json.dumps({"panels": [{"datasource": {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}}]})
    expect("unknown dashboard uid", check_grafana(datasources, providers, spec, dashboards_with(bad_uid)), "P1809F7CD0C75ACF3")
    expect("dashboard not JSON", check_grafana(datasources, providers, spec, dashboards_with("{")), "not JSON")
    if check_grafana(datasources, providers, spec, lambda host: {}):
        failures.append("empty dashboards directory: expected no problem")
    good = json.dumps({"uid": "mlotel-x", "panels": [{"datasource": {"uid": "${DS_PROMETHEUS}"}}, {"datasource": {"uid": "jaeger"}}]})
    if check_grafana(datasources, providers, spec, dashboards_with(good)):
        failures.append("dashboard with ${DS_PROMETHEUS} and jaeger: expected no problem")
    mutant_sources = copy.deepcopy(datasources)
    mutant_sources["datasources"][1]["uid"] = "prometheus"
    expect("duplicate uid", check_grafana(mutant_sources, providers, spec, lambda host: {}), "unique")

    context = ROOT
    expect("root user", check_dockerfile("Dockerfile", dockerfile.replace("USER 10001:10001", "USER root"), context), "non-root USER")
    expect("no healthcheck", check_dockerfile("Dockerfile", re.sub(r"(?m)^HEALTHCHECK.*(\n .*)*", "", dockerfile), context), "no HEALTHCHECK")
    expect("unknown stage", check_dockerfile("Dockerfile", dockerfile.replace("--from=build", "--from=builder"), context), "names no earlier stage")
    expect("missing COPY source", check_dockerfile("Dockerfile", dockerfile.replace("COPY . .", "COPY nothing/ ."), context), "not in the build context")
    expect("ignored COPY source", check_dockerfile("Dockerfile", dockerfile.replace("COPY . .", "COPY target/ ."), context), ".dockerignore")
    expect("old rust", check_dockerfile("Dockerfile", re.sub(r"rust:\d+\.\d+", "rust:1.70", dockerfile), context, ((1, 89), ["x 1.0"])), "need rustc 1.89")
    expect("unpinned base", check_dockerfile("Dockerfile", dockerfile.replace("debian:bookworm-slim", "debian"), context), "not pinned")

    for line in failures:
        print(f"stack config self-test: {line}", file=sys.stderr)
    if failures:
        return 1
    print("stack config self-test: ok (each mutation reported)")
    return 0


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    problems, rust_needed = run_checks()
    for line in problems:
        print(f"stack config: {line}", file=sys.stderr)
    if problems:
        return 1
    rust = f"; rust builder >= {'.'.join(map(str, rust_needed[0]))} the lock needs" if rust_needed else ""
    print(f"stack config: ok (deploy/versions.env = compose tags = go.mod pins; compose schema, paths and healthchecks; "
          f"{len(collector_files())} collector configs against our distribution's components; "
          f"Grafana provisioning; Dockerfile{rust})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
