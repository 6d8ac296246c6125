"""schemathesis against the OpenAPI document, with a token per role (reliability_security.md
7, T14): whatever the generated request, no 5xx, and every answer (errors included)
conforms to the documented status codes, content types and schemas.

The app runs under real uvicorn on its own clone of the world database; generated
requests may change it (disable users, move devices) and nothing else reads it. The
live stream never ends, so it is left out (tests/api/test_live.py covers it).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ingest.settings import Broker
from tests.api.conftest import bearer, mint, settings_for
from tests.api.server import serve
from tests.fixtures.mosquitto import BrokerConfig, Mosquitto, free_port

# Examples per operation, each sent with the token of a role drawn at random; every role
# gets its turn across the operations (about 60 x 15 requests in all).
MAX_EXAMPLES = 15
ROLES = ("clinician_a", "nurse_a", "fleet_m1", "admin_m1", "auditor_m1", "patient_a")
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker for the config pushes (without one, they answer 503 by design)."""
    broker = Mosquitto(
        tmp_path_factory.mktemp("mosquitto"), port=free_port(), config=BrokerConfig()
    )
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def server_url(world_db, broker):
    settings = settings_for(world_db.url, broker=Broker.from_url(broker.url))
    with serve(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="module")
def tokens(world_db):
    return {role: bearer(mint(world_db.world, role)) for role in ROLES}


# The document is generated without a database (create_app does no I/O); requests go
# to the running server's base URL.
schema = schemathesis.openapi.from_dict(
    create_app(settings_for("postgresql://unused")).openapi()
).exclude(path="/alerts/stream")


# The server runs on a thread of this process, and psycopg_pool jitters each new
# connection's lifetime with the global ``random``; when the pool grows while Hypothesis
# draws a case, Hypothesis sees the global random state move and blames the strategy.
THREADED_SERVER_RANDOM = (
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


@pytest.mark.filterwarnings(THREADED_SERVER_RANDOM)
@schema.parametrize()
@schema.given(role=st.sampled_from(ROLES))
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_for_every_role(case, role, server_url, tokens):
    response = case.call(base_url=server_url, headers=tokens[role])
    case.validate_response(response, checks=CHECKS)
