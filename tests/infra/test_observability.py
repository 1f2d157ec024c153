"""The dashboard and the alert rules in infra/: promtool accepts and tests the rules, every
metric name they use is one the code registers, and each alert has its runbook section."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from connmgr.api.connection_gauges import ConnectionGauges
from connmgr.api.metrics import ApiMetrics
from connmgr.workers.metrics import metric_names, sample_names
from support.databases import migrated_engine
from support.services import service_unavailable

ROOT = Path(__file__).parents[2]
RULES = ROOT / "infra/prometheus/rules.yaml"
RULES_TEST = ROOT / "infra/prometheus/rules_test.yaml"
DASHBOARD = ROOT / "infra/grafana/connmgr.json"
RUNBOOK = ROOT / "docs/operations.md"
WORKERS = ROOT / "infra/k8s/workers.yaml"
METRIC_NAME = re.compile(r"\bconnmgr_\w+")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$pool": ".*"}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        service_unavailable("promtool", "Debian's prometheus package ships it (.ci/run)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


async def api_metric_names(sqlite_url: str) -> frozenset[str]:
    gauges = ConnectionGauges()
    async with migrated_engine(sqlite_url) as engine:
        await gauges.refresh(engine)
    fleet = CollectorRegistry()
    fleet.register(gauges)
    api = ApiMetrics().registry
    return sample_names([*api.collect(), *fleet.collect()]) - metric_names()


def test_the_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_the_rules_unit_tests_pass_and_each_alert_both_fires_and_stays_silent() -> None:
    tested = promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    fired, silent = set(), set()
    for case in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for expectation in case["alert_rule_test"]:
            (fired if expectation["exp_alerts"] else silent).add(expectation["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names == fired
    assert names == silent


def test_each_alert_has_a_severity_a_summary_a_description_and_a_runbook_section() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        page, anchor = annotations["runbook_url"].split("#")
        assert (page, anchor in headings) == ("docs/operations.md", True), rule["alert"]


async def test_the_dashboard_and_the_rules_use_only_metric_names_the_code_registers(
    sqlite_url: str,
) -> None:
    registered = metric_names() | await api_metric_names(sqlite_url)
    exprs = dashboard_exprs() + [rule["expr"] for rule in alert_rules()]
    used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert all(METRIC_NAME.search(expr) for expr in exprs)
    assert used - registered == set()
    assert "connmgr_api_requests_total" in registered  # the API's names were read
    assert "connmgr_connection_latency_seconds_bucket" in registered


def test_the_dashboard_shows_every_worker_metric() -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in metric_names()}
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert families - shown == set()


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule, Grafana's variables filled in."""
    rules = []
    for number, expr in enumerate(dashboard_exprs()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:panel_{number}", "expr": expr})
    path = tmp_path / "dashboard_rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_is_provisioning_ready() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [entry["name"] for entry in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {entry["name"]: entry for entry in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        sources = [panel.get("datasource"), *(t["datasource"] for t in panel.get("targets", []))]
        for source in filter(None, sources):
            assert source == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]


def test_every_worker_pod_is_annotated_for_scraping_on_its_probe_port() -> None:
    deployments = [d for d in yaml.safe_load_all(WORKERS.read_text()) if d]
    assert deployments
    for deployment in deployments:
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        (probes,) = [port for port in container["ports"] if port["name"] == "probes"]
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(probes["containerPort"]),
            "prometheus.io/path": "/metrics",
        }, deployment["metadata"]["name"]


FLEET_GAUGES = {
    "connmgr_connections": ('kind="postgres",status="healthy"', "kind, status"),
    "connmgr_checks_last_minute": ('outcome="up"', "outcome"),
}
"""Every API replica serves the same fleet gauges: a panel must count each once."""


def test_the_fleet_gauge_panels_count_each_connection_once_whatever_the_api_replicas(
    tmp_path: Path,
) -> None:
    cases = []
    for expr in dashboard_exprs():
        metric = next((name for name in FLEET_GAUGES if f"({name})" in expr), None)
        if metric is None:
            continue
        labels, _ = FLEET_GAUGES[metric]
        replicas = [f'{metric}{{instance="api-{n}:8080",{labels}}}' for n in (0, 1)]
        cases.append(
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": "7x5"} for series in replicas],
                "promql_expr_test": [
                    {"expr": expr, "eval_time": "2m", "exp_samples": [
                        {"labels": f"{{{labels}}}", "value": 7}
                    ]}
                ],
            }
        )  # fmt: skip
    assert len(cases) == len(FLEET_GAUGES), "a fleet gauge panel is missing"
    path = tmp_path / "fleet_gauges_test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [], "tests": cases}))

    tested = promtool("test", "rules", path.name, cwd=tmp_path)

    assert tested.returncode == 0, tested.stdout + tested.stderr
