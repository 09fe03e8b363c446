"""docs/sync.md against the code and the contract: the merge tiers are the ones the merge applies,
and the outcomes are the ones a push answers with."""

from __future__ import annotations

from local.cfn_template import OPENAPI_PATH, load_yaml
from receipt_vault.receipts import models
from tests.docs.markdown_doc import DOCS, code_spans, section, table_rows

SYNC_GUIDE = (DOCS / "sync.md").read_text(encoding="utf-8")
OPENAPI = load_yaml(OPENAPI_PATH)


def test_the_merge_tiers_are_the_fields_the_merge_applies_them_to():
    tiers = {row[0]: code_spans(row[1]) for row in table_rows(section(SYNC_GUIDE, "The merge"))}

    assert tiers == {
        "server-owned": list(models.SERVER_OWNED_FIELDS),
        "user-owned": list(models.USER_OWNED_FIELDS),
        "LLM-extractable": list(models.EXTRACTABLE_FIELDS),
    }


def test_the_outcomes_are_the_ones_a_push_answers_with():
    result = OPENAPI["components"]["schemas"]["SyncPushResult"]["properties"]["outcome"]
    documented = [code_spans(row[0])[0] for row in table_rows(section(SYNC_GUIDE, "Outcomes"))]

    assert documented == result["enum"]
