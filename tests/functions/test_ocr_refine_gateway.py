"""ocr-refine's gateway: Bedrock's errors as the refinement sees them, with Stubber-scripted clients."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ocr_refine.model_gateway import UNAVAILABLE_CODES, ModelGateway, ModelUnavailable
from tests.support.bedrock import HAIKU, text_answer

REQUEST = {"modelId": HAIKU, "messages": [{"role": "user", "content": [{"text": "LIDL 3,59"}]}]}


def gateway_with(bedrock: Any) -> ModelGateway:
    return ModelGateway(bedrock, boto3.client("textract"), boto3.client("s3"), "images")


@pytest.fixture
def bedrock() -> Any:
    with Stubber(boto3.client("bedrock-runtime")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_an_answer_is_returned_as_bedrock_gave_it(bedrock):
    answer = text_answer("{}") | {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}
    bedrock.add_response("converse", answer | {"metrics": {"latencyMs": 5}}, REQUEST)

    response = gateway_with(bedrock.client).converse(REQUEST)

    assert response["output"] == answer["output"] and response["stopReason"] == "end_turn"


@pytest.mark.parametrize("code", sorted(UNAVAILABLE_CODES))
def test_a_throttled_or_unavailable_model_is_model_unavailable_with_its_code(bedrock, code):
    bedrock.add_client_error("converse", service_error_code=code, http_status_code=429)

    with pytest.raises(ModelUnavailable) as raised:
        gateway_with(bedrock.client).converse(REQUEST)

    assert raised.value.code == code and isinstance(raised.value.__cause__, ClientError)


@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"])
def test_any_other_bedrock_error_goes_on_as_it_came(bedrock, code):
    bedrock.add_client_error("converse", service_error_code=code, http_status_code=400)

    with pytest.raises(ClientError) as raised:
        gateway_with(bedrock.client).converse(REQUEST)

    assert raised.value.response["Error"]["Code"] == code
