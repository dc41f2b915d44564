"""schemathesis over every operation of the app: the spec must tell the truth.

The app is built inside the test because schemathesis' ASGI transport runs the app's lifespan
on its own event loop; the test is therefore synchronous.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis

from services.api.app import create_app
from shared.settings import Settings


@pytest.mark.usefixtures("running_worker")
def test_every_operation_conforms_to_the_spec(settings: Settings, subtests) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(settings))
    operations = list(schema.get_all_operations())
    assert operations, "the spec lists no operations"
    for result in operations:
        operation = result.ok()

        @hypothesis.settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        with subtests.test(operation=operation.label):
            check()
