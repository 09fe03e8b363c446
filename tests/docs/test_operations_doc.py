"""docs/operations.md against template.yaml and src/: every alarm has its runbook entry, every
parameter and every custom metric is described, and nothing described is gone."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from local.cfn_template import load_template, resources_of_type
from tests.docs.markdown_doc import DOCS, ROOT, code_spans, section, table_rows

TEMPLATE = load_template()
OPERATIONS = (DOCS / "operations.md").read_text(encoding="utf-8")
# Calls that emit a metric named by their first argument or `name=`, and the dictionaries of
# metric name to report field that the scheduled jobs and OCR refinement emit from.
METRIC_CALLS = {"add_metric", "single_metric", "_count", "record", "_record"}
METRIC_TABLES = {"METRICS", "UNITS"}


def _first_column(heading: str) -> set[str]:
    return {name for row in table_rows(section(OPERATIONS, heading)) for name in code_spans(row[0])}


def _documented_metrics() -> set[tuple[str, str]]:
    return {
        (code_spans(row[0])[0], metric)
        for row in table_rows(section(OPERATIONS, "Metrics"))
        for metric in code_spans(row[1])
    }


def _emitted_metric_names() -> set[str]:
    names = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called in METRIC_CALLS:
                    arguments = [keyword.value for keyword in node.keywords if keyword.arg == "name"] + node.args[:1]
                    names |= {a.value for a in arguments if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(target, ast.Name) and target.id in METRIC_TABLES for target in node.targets)
            ):
                names |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    return names


def _dashboard_widgets() -> list[dict[str, Any]]:
    """The dashboard's widgets, every ${...} placeholder filled as CloudFormation would."""
    body = TEMPLATE["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        body = body["Fn::Sub"]
    if isinstance(body, list):  # Fn::Sub [template, variables]
        body = body[0]
    return json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]


def _custom_metrics_the_template_watches() -> set[tuple[str, str]]:
    """(namespace, metric) of every ReceiptVault/* metric an alarm or the dashboard reads."""
    watched = set()
    for alarm in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        stats = [properties] + [
            query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query
        ]
        watched |= {(stat["Namespace"], stat["MetricName"]) for stat in stats if "Namespace" in stat}
    for widget in _dashboard_widgets():
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], str) and metric[0] != "...":
                watched.add((metric[0], metric[1]))
    return {(namespace, name) for namespace, name in watched if namespace.startswith("ReceiptVault/")}


def _alarm_name(alarm: dict[str, Any]) -> str:
    return alarm["Properties"]["AlarmName"]["Fn::Sub"].removeprefix("receiptvault-${Stage}-")


def test_the_alarm_runbook_has_an_entry_for_every_alarm_and_none_for_an_alarm_that_is_gone():
    alarms = {_alarm_name(alarm) for alarm in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()}

    assert _first_column("Alarm runbook") == alarms


def test_every_template_parameter_is_described_and_no_other():
    assert _first_column("Deploying") == set(TEMPLATE["Parameters"])


def test_the_metric_list_is_what_the_code_emits():
    assert {metric for _, metric in _documented_metrics()} == _emitted_metric_names()


def test_every_custom_metric_an_alarm_or_the_dashboard_reads_is_listed_under_its_namespace():
    assert _custom_metrics_the_template_watches() - _documented_metrics() == set()


def test_the_dashboard_section_has_a_row_for_each_row_of_the_dashboard():
    rows = {widget["y"] for widget in _dashboard_widgets()}
    described = re.findall(r"^\d+\. \*\*", section(OPERATIONS, "Dashboard"), re.MULTILINE)

    assert len(described) == len(rows)
