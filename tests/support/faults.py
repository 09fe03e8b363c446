"""Faults injected into a function's execution environments in the local stack.

Each is `LocalFunction.patched("tests.support.faults:<name>")`: run in every environment that
starts inside, with the handler's module, as a defect in deployed code would be there.
"""

from __future__ import annotations

from types import ModuleType


def apply_retried_pushes_again(sync_handler: ModuleType) -> None:
    """The sync handler forgets that a push's mutation was already applied."""
    sync_handler.SyncService._apply.__globals__["applied_mutation"] = lambda item, mutation_id: False
