"""The API answers what /api/v1/openapi.json describes: a bounded, deterministic schemathesis run against the real
app on a temporary database, with a real device token and organiser session, and with no credentials at all.

Checked for every generated request: no 5xx; the status, content type and body of every answer are the ones
described; a request the description calls valid is never refused for its form (a refusal by a rule, such as
a device clock 3 days behind or an unknown session, is an answer the description names, and fine)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CheckContext
from schemathesis.generation import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checkin.door import openapi

from .conftest import bearer
from .servers import serving

# Codes that say a request's form is wrong. A request the description calls valid must not get one.
FORM_CODES = {"invalid_json", "invalid_field", "code_missing", "code_too_long", "code_not_text", "query_too_short",
              "length_required", "body_too_large", "not_found", "method_not_allowed"}


def valid_requests_are_not_refused_for_their_form(ctx: CheckContext, response, case) -> bool | None:
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE or response.status_code < 400:
        return None
    code = (response.json().get("error") or {}).get("code")
    assert code not in FORM_CODES, f"a request the description calls valid was refused as {code}"
    return None


def secured_operations_refuse_a_client_without_credentials(ctx: CheckContext, response, case) -> bool | None:
    if _scheme(case) is not None:
        assert response.status_code >= 400, "answered without the credentials the description requires"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          valid_requests_are_not_refused_for_their_form]


@pytest.fixture
def store() -> str:
    """The description is the same on both stores and the rest of the suite runs on both; on SQLite alone this
    run stays within a minute (on PostgreSQL as well it passes, at twice the time)."""
    return "sqlite"


@pytest.fixture
def http(app, world):
    """The app on a real server, a session to call it with, and the organiser's session cookie."""
    with serving(app) as port, requests.Session() as session:
        session.base_url = f"http://127.0.0.1:{port}"
        page = session.get(f"{session.base_url}/login")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed_in = session.post(f"{session.base_url}/login", allow_redirects=False, data={
            "username": "lan", "password": world.organiser_password, "csrf": token})
        world.session_cookie = signed_in.cookies["checkin_session"]
        session.cookies.clear()
        yield session


# Built from the document itself (data, no app), so that pytest can make one test per operation.
schema = schemathesis.openapi.from_dict(openapi.document())
BOUNDED = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def _scheme(case) -> str | None:
    security = case.operation.definition.raw.get("security") or [{}]
    return next(iter(security[0]), None)


def call_and_check(case, http, credentials: dict) -> None:
    auth = credentials.get(_scheme(case), {})
    response = case.call(session=http, base_url=http.base_url, cookies=auth.get("cookies"),
                         headers={**(case.headers or {}), **auth.get("headers", {})})
    case.validate_response(response, checks=CHECKS if credentials else
                           [*CHECKS, secured_operations_refuse_a_client_without_credentials])


@schema.parametrize()
@BOUNDED
def test_the_api_answers_a_paired_phone_and_a_signed_in_organiser_as_described(case, http, world):
    call_and_check(case, http, {"deviceToken": {"headers": bearer(world.course.token)},
                                "organiserSession": {"cookies": {"checkin_session": world.session_cookie}}})


@schema.parametrize()
@BOUNDED
def test_the_api_answers_a_client_without_credentials_as_described(case, http):
    call_and_check(case, http, {})
