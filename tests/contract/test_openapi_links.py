"""The document's links chain every resource from its create, through its actions, to its
delete (what schemathesis' stateful phase walks), and each names a real operation and its
real parameter or body field."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from services.api.openapi import SPEC_PATH


def _operations() -> dict[str, tuple[str, dict[str, Any]]]:
    spec = json.loads(SPEC_PATH.read_text())
    found = {}
    for path, item in spec["paths"].items():
        for operation in item.values():
            found[operation["operationId"]] = (path, operation)
    return found


def _links(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: link
        for response in operation["responses"].values()
        for name, link in (response.get("links") or {}).items()
    }


@pytest.mark.parametrize(
    "chain",
    [
        ("CreateContainer", "StartContainer", "StopContainer", "DeleteContainer"),
        ("CreateContainer", "CancelContainerBuild", "RetryContainerBuild", "DeleteContainer"),
        ("ListNodes", "CreateContainer", "RebootContainer", "DeleteContainer"),
        ("CreateTemplate", "UpdateTemplate", "DeleteTemplate"),
        ("CreateBucket", "AddBucketPackages", "RemoveBucketPackages", "DeleteBucket"),
        ("CreateNode", "TestNodeConnection", "DeleteNode"),
    ],
)
def test_links_chain_create_actions_and_delete(chain: tuple[str, ...]) -> None:
    operations = _operations()
    for source, target in itertools.pairwise(chain):
        assert target in _links(operations[source][1]), f"no link {source} -> {target}"


def test_every_link_names_an_operation_and_what_it_fills() -> None:
    operations = _operations()
    count = 0
    for source, (_, operation) in operations.items():
        for name, link in _links(operation).items():
            count += 1
            path, target = operations[link["operationId"]]
            wanted = set(re.findall(r"{(\w+)}", path))
            assert set(link.get("parameters", {})) <= wanted, (source, name)
            fields = set(link.get("requestBody", {}))
            if fields:
                body = target["requestBody"]["content"]["application/json"]["schema"]
                schema = json.loads(SPEC_PATH.read_text())["components"]["schemas"]
                properties = schema[body["$ref"].rsplit("/", 1)[1]]["properties"]
                assert fields <= set(properties), (source, name)
            for value in [
                *link.get("parameters", {}).values(),
                *link.get("requestBody", {}).values(),
            ]:
                assert re.fullmatch(r"\$(response\.body#/[\w/]+|request\.path\.\w+)", value), value
    assert count > 100
