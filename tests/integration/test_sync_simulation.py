"""The model-based sync simulation through the local stack over HTTP (tests/support/sync_simulation.py).

A few seeds here; `bench/sync_soak.py` runs many more. Each seed is reproducible: the same
devices, edits, faults and requests in the same order.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import new_user_token
from tests.support.sync_simulation import Simulation, SyncRuleViolationError

SEEDS = [20261201, 7, 1312]


@pytest.mark.parametrize("seed", SEEDS)
def test_devices_on_a_flaky_network_never_lose_an_edit_and_converge(stack, seed):
    counts = Simulation(stack.api_url, new_user_token(stack), seed, steps=110).run()

    # The run exercised what it claims to: lost answers and their retries, duplicates, paging.
    assert counts["pushes: response lost"] and counts["outcomes: duplicate"], counts
    assert counts["pulls: interrupted"] and counts["rest: put"] + counts["rest: stale put"], counts
    assert counts["receipts"] >= 3


def test_the_simulation_catches_a_server_that_applies_a_retried_push_again(stack):
    token = new_user_token(stack)

    forgetful = stack.functions["SyncHandlerFunction"].patched("tests.support.faults:apply_retried_pushes_again")

    with forgetful, pytest.raises(SyncRuleViolationError, match="duplicate"):
        Simulation(stack.api_url, token, SEEDS[0], steps=110).run()
