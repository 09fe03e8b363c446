"""The one clock every part reads, and the plain summary line of the fuzz run."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from local import clock
from local.cfn_template import load_template
from local.fuzz import links_followed, plain_report
from receipt_vault import clock as function_clock


def test_the_offset_moves_the_functions_clock_and_the_stacks_together(monkeypatch):
    monkeypatch.setenv(clock.CLOCK_OFFSET_VARIABLE, "-3")

    shifted = function_clock.utc_now()

    assert abs((dt.datetime.now(dt.UTC) - dt.timedelta(days=3) - shifted).total_seconds()) < 5
    assert abs(clock.epoch_seconds() - shifted.timestamp()) < 5
    assert clock.utc_now is function_clock.utc_now  # one implementation, not two


def test_without_the_variable_the_clock_is_the_real_one(monkeypatch):
    monkeypatch.delenv(clock.CLOCK_OFFSET_VARIABLE, raising=False)

    assert abs(function_clock.utc_now().timestamp() - time.time()) < 5


def test_a_malformed_offset_fails_loudly_rather_than_running_on_the_real_clock(monkeypatch):
    monkeypatch.setenv(clock.CLOCK_OFFSET_VARIABLE, "30d")

    with pytest.raises(ValueError, match="whole number of days"):
        function_clock.utc_now()


def test_no_deployed_function_can_have_its_clock_moved():
    template = load_template()
    declared = [
        name
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for name in resource["Properties"].get("Environment", {}).get("Variables", {})
    ]
    declared += list(template["Globals"]["Function"]["Environment"]["Variables"])

    assert clock.CLOCK_OFFSET_VARIABLE not in declared


SCHEMATHESIS_TAIL = """Test cases:
  346 generated, {outcome}

Seed: 20261122

============================== 1 warning in 9.00s ==============================
"""


def test_the_fuzz_report_ends_with_a_plain_line_instead_of_a_pytest_style_one():
    report = plain_report(SCHEMATHESIS_TAIL.format(outcome="346 passed"), 0)

    assert "warning in" not in report
    assert report.splitlines()[-1] == "API fuzz run: 346 requests, 0 failures"


@pytest.mark.parametrize(
    ("outcome", "failures"),
    [("28 found 28 unique failures, 34 skipped", 28), ("1 found 1 unique failure", 1), ("340 passed, 6 failed", 6)],
    ids=["schemathesis-4", "one", "older-wording"],
)
def test_the_fuzz_report_counts_failures_and_keeps_the_exit_code(outcome, failures):
    report = plain_report(SCHEMATHESIS_TAIL.format(outcome=outcome), 1)

    assert report.splitlines()[-1] == f"API fuzz run: 346 requests, {failures} failures (exit code 1)"


STATEFUL_SUMMARY = """ ✅  Stateful (in 31.50s)

     Scenarios:    46
     API Links:    {covered} covered / 15 selected / 15 total
"""


def test_the_fuzz_report_says_how_many_of_the_contracts_links_the_stateful_phase_followed():
    output = STATEFUL_SUMMARY.format(covered=15) + SCHEMATHESIS_TAIL.format(outcome="346 passed")

    assert links_followed(output) == (15, 15)
    assert plain_report(output, 0).splitlines()[-1] == "API fuzz run: 346 requests, 0 failures, 15 of 15 links followed"


def test_a_link_never_followed_is_read_as_such_and_a_run_without_the_stateful_phase_has_none():
    assert links_followed(STATEFUL_SUMMARY.format(covered=11)) == (11, 15)
    assert links_followed(SCHEMATHESIS_TAIL.format(outcome="346 passed")) is None
