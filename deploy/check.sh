#!/usr/bin/env bash
# Checks the deployment files:
#  - every manifest in deploy/k8s parses as YAML (PyYAML, pinned, in deploy/.venv) and
#    has apiVersion, kind and metadata.name; the required kinds are all there;
#  - the ConfigMap embeds a YAML tripgate config (its full validation is the Rust test
#    `cargo test -p tripgate-ops --test deploy`);
#  - every tripgate_* metric the alerts and the Grafana dashboard (deploy/grafana) use
#    is one ops/src/exposition.rs emits, and every label a dashboard query filters or
#    groups on is one the exposition or Prometheus' target labels provide;
#  - promtool check rules and promtool test rules on deploy/prometheus;
#  - amtool check-config on the inhibition rule (deploy/alertmanager).
# Installs Debian's prometheus and prometheus-alertmanager packages (for promtool and
# amtool) when missing; run as root on a fresh machine. Idempotent. Exits non-zero on
# any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
PYYAML_VERSION="6.0.3"

if ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
    echo "==> installing promtool and amtool (Debian packages prometheus, prometheus-alertmanager)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
fi

VENV="$HERE/.venv"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('PyYAML') != '$PYYAML_VERSION')" 2>/dev/null; then
    "$VENV/bin/pip" install -q "PyYAML==$PYYAML_VERSION"
fi

# A real exposition (the ops crate's example registry): the labels its samples carry.
EXPOSITION="$(mktemp)"
trap 'rm -f "$EXPOSITION"' EXIT
(cd "$ROOT" && cargo run -q -p tripgate-ops --example exposition) > "$EXPOSITION"

echo "==> manifests parse as YAML"
"$VENV/bin/python" - "$HERE" "$ROOT" "$EXPOSITION" <<'PY'
import pathlib, re, sys
import yaml

here, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
failures = []
kinds = {}
for path in sorted((here / "k8s").glob("*.yaml")):
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        failures.append(f"{path}: {e}")
        continue
    for d in docs:
        for key in ("apiVersion", "kind"):
            if key not in d:
                failures.append(f"{path}: a document without {key}")
        if not d.get("metadata", {}).get("name"):
            failures.append(f"{path}: a document without metadata.name")
        kinds[d.get("kind")] = d
    print(f"  ok {path.relative_to(root)} ({', '.join(str(d.get('kind')) for d in docs)})")
required = {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"}
missing = required - set(kinds)
if missing:
    failures.append(f"missing kinds: {sorted(missing)}")
cm = kinds.get("ConfigMap")
if cm:
    inner = yaml.safe_load(cm["data"]["tripgate.yaml"])
    if not isinstance(inner, dict) or "services" not in inner:
        failures.append("the ConfigMap's tripgate.yaml has no services")
dep = kinds.get("Deployment")
if dep:
    c = dep["spec"]["template"]["spec"]["containers"][0]
    for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
        if c.get(probe, {}).get("httpGet", {}).get("path") != path:
            failures.append(f"Deployment: {probe} is not on {path}")
# Alert metric names against what the exposition emits.
source = (root / "ops" / "src" / "exposition.rs").read_text()
emitted = set(re.findall(r'"(tripgate_[a-z0-9_]+)"', source))
emitted |= {n + "_sum" for n in emitted} | {n + "_count" for n in emitted}
alerts = (here / "prometheus" / "alerts.yaml").read_text()
exprs = [r["expr"] for g in yaml.safe_load(alerts)["groups"] for r in g["rules"]]
used = {n for e in exprs for n in re.findall(r"\b(tripgate_[a-z0-9_]+)", e)}
unknown = used - emitted
if unknown:
    failures.append(f"alerts use metrics the exposition does not emit: {sorted(unknown)}")
print(f"  ok alerts use {len(used)} metric names, all emitted")
# The Grafana dashboard's queries: metric names emitted, labels that exist.
import json
exposition = pathlib.Path(sys.argv[3]).read_text()
labels = set(re.findall(r'[{,]([a-z_]+)="', exposition))
# The target labels Prometheus adds.
labels |= {"namespace", "job", "instance", "pod", "service"}
for path in sorted((here / "grafana").glob("*.json")):
    dash = json.loads(path.read_text())
    queries = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    queries += [v["query"]["query"] for v in dash.get("templating", {}).get("list", []) if isinstance(v.get("query"), dict)]
    if not queries:
        failures.append(f"{path}: no queries")
    for q in queries:
        for m in re.findall(r"\b(tripgate_[a-z0-9_]+)", q):
            if m not in emitted:
                failures.append(f"{path.name}: query uses {m}, which the exposition does not emit: {q}")
        for lab in re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", q):
            if lab not in labels:
                failures.append(f"{path.name}: query filters on unknown label {lab}: {q}")
        for group in re.findall(r"by \(([^)]*)\)", q):
            for lab in (g.strip() for g in group.split(",")):
                if lab and lab not in labels:
                    failures.append(f"{path.name}: query groups by unknown label {lab}: {q}")
    print(f"  ok {path.relative_to(root)}: {len(queries)} queries, every metric emitted")
if failures:
    print("deploy check FAILED:")
    for f in failures:
        print("  -", f)
    sys.exit(1)
PY

echo "==> promtool check rules"
promtool check rules "$HERE/prometheus/alerts.yaml"
echo "==> promtool test rules"
(cd "$HERE/prometheus" && promtool test rules alerts_test.yaml)
echo "==> amtool check-config (inhibition rule)"
amtool check-config "$HERE/alertmanager/inhibit.yaml"
echo "deploy check ok"
