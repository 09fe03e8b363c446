"""docs/api.md against the contract and the code: it links to api/openapi.yaml as the reference,
its route table is the contract's routes with the functions that serve them, and its error table
is every error code the functions and the gateway answer with."""

from __future__ import annotations

import re

from local.cfn_template import OPENAPI_PATH, integrated_function, load_template, load_yaml, resources_of_type
from receipt_vault import errors
from tests.docs.markdown_doc import DOCS, code_spans, links, section, table_rows

API_GUIDE = (DOCS / "api.md").read_text(encoding="utf-8")
OPENAPI = load_yaml(OPENAPI_PATH)
FUNCTIONS = resources_of_type(load_template(), "AWS::Serverless::Function")
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _function_directory(logical_id: str) -> str:
    return FUNCTIONS[logical_id]["Properties"]["CodeUri"].strip("/").removeprefix("src/")


def _contract_routes() -> set[tuple[str, str, str]]:
    """(method, path, function directory) of every operation of the contract but the preflights."""
    routes = set()
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                function = integrated_function(operation)
                assert function, (method, path)
                routes.add((method.upper(), path, _function_directory(function)))
    return routes


def _error_codes() -> set[tuple[int, str]]:
    """(status, error) of every ApiError the functions raise and every gateway response."""
    codes = set()
    pending = [errors.ApiError]
    while pending:
        error = pending.pop()
        codes.add((error.status_code, error.code))
        pending += error.__subclasses__()
    for response in OPENAPI["x-amazon-apigateway-gateway-responses"].values():
        code = re.search(r'"error":"(\w+)"', response["responseTemplates"]["application/json"]).group(1)
        codes.add((int(response["statusCode"]), code))
    for operations in OPENAPI["paths"].values():  # the ANY methods' mocks: API Gateway's 405
        integration = operations["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        default = integration["responses"]["default"]
        code = re.search(r'"error":"(\w+)"', default["responseTemplates"]["application/json"]).group(1)
        codes.add((int(default["statusCode"]), code))
    return codes


def test_the_api_guide_links_to_the_contract_as_the_reference():
    targets = {link.target for link in links(API_GUIDE)}

    assert "../api/openapi.yaml" in targets


def test_the_route_table_is_the_contracts_routes_and_their_functions():
    documented = {(row[0], code_spans(row[1])[0], row[2]) for row in table_rows(section(API_GUIDE, "Routes"))}

    assert documented == _contract_routes()


def test_the_error_table_is_every_code_the_api_answers_with():
    documented = {(int(row[0]), code_spans(row[1])[0]) for row in table_rows(section(API_GUIDE, "Errors"))}

    assert documented == _error_codes()
