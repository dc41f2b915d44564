"""schemathesis over every operation of the app: the spec must tell the truth.

The app is built inside the test because schemathesis' ASGI transport runs the app's lifespan
on its own event loop; the test is therefore synchronous.

Generated requests must not reach out of this machine, so the login and node routes run with
`PVE_ALLOWED_HOSTS` set to a domain no generated host falls in: they answer 403 for generated
hosts, and their successful paths are covered by the integration tests against the simulator.
Every case runs with a fresh bearer session from an auth provider, so schemathesis knows the
credentials are real and can probe each protected route without them and with spoiled ones
(logout is one of the operations under test, hence fresh sessions).
"""

from __future__ import annotations

import asyncio

import hypothesis
import msgspec
import pytest
import schemathesis

from services.api.app import create_app
from shared.core.settings import Settings
from tests.bearer import bearer_token, fresh_user
from tests.contract.query_rules import ordered_audit_bounds

UNREACHABLE_HOSTS = "*.schemathesis.invalid"


@pytest.mark.usefixtures("running_worker")
def test_every_operation_conforms_to_the_spec(settings: Settings, subtests) -> None:
    fuzz_settings = msgspec.structs.replace(settings, pve_allowed_hosts=UNREACHABLE_HOSTS)
    user_id = asyncio.run(fresh_user(fuzz_settings))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(fuzz_settings))
    schema.hook("map_query")(ordered_audit_bounds)

    @schema.auth(refresh_interval=None)  # no caching: a fresh session for every case
    class FreshBearerSession:
        def get(self, case: schemathesis.Case, ctx: object) -> str:
            return asyncio.run(bearer_token(fuzz_settings, user_id))

        def set(self, case: schemathesis.Case, data: str, ctx: object) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

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
