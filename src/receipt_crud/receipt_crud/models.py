"""The duplicate review's requests: the listing of pairs, and the resolution of one pair."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from receipt_vault.duplicates.decisions import DuplicateAction
from receipt_vault.model_base import MAX_VERSION, InputModel

Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class DuplicatePairQuery(InputModel):
    limit: Annotated[int, Field(ge=1, le=50)] = 20
    nextToken: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None


class DuplicateResolution(InputModel):
    """What the user decided about a pair, on the versions of both receipts they reviewed."""

    action: DuplicateAction
    serverVersion: Version  # of the receipt of the path, the one kept
    otherServerVersion: Version  # of the other receipt of the path
