"""What the operator and the load balancer ask an instance: alive, ready, and its metrics."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from checkin.app import create_app

from .conftest import bearer


def test_healthz_and_readyz_answer_when_the_instance_can_serve(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["database"] is True and ready.json()["listener"] is True


def test_readyz_says_not_ready_while_draining(client, app):
    app.state.services.draining = True
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready" and ready.json()["draining"] is True
    assert client.get("/healthz").status_code == 200  # alive all the same: it finishes what it has


def samples(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_refused_to_other_addresses_without_the_token(client):
    answer = client.get("/metrics")  # the test client's address is "testclient", not in CHECKIN_METRICS_ALLOW
    assert answer.status_code == 403 and "CHECKIN_METRICS_TOKEN" in answer.text


def test_metrics_count_scans_by_reason_and_method_for_the_operator(world, clock):
    settings = replace(world.settings, metrics_allow="testclient,127.0.0.1", metrics_token="op-secret-token")
    with TestClient(create_app(settings, clock=clock)) as c:
        for code in (world.course.codes[0], world.course.codes[0], "nobody-has-this-code"):
            c.post("/api/v1/scans", json={"code": code, "method": "camera"}, headers=bearer(world.course.token))
        c.get("/api/v1/participants?q=x", headers=bearer(world.course.token))
        refused = c.get("/metrics")  # "testclient" is not an address: only the token lets it in
        assert refused.status_code == 403
        answer = c.get("/metrics", headers={"Authorization": "Bearer op-secret-token"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        found = samples(answer.text)
        assert found[("checkin_scans_total", (("method", "camera"), ("reason", "checked_in")))] == 1
        assert found[("checkin_scans_total", (("method", "camera"), ("reason", "already_checked_in")))] == 1
        assert found[("checkin_scans_total", (("method", "camera"), ("reason", "unknown_code")))] == 1
        assert found[("checkin_scan_seconds_count", ())] == 3
        assert ("checkin_event_streams", ()) in found and ("checkin_listener_up", ()) in found
        assert ("checkin_store_busy", ()) in found
        # PostgreSQL decides a phone's scans in batches (door/batch.py): three scans one after another, three
        # batches of one; SQLite writes them through its writer, no batch.
        batches = 3 if world.settings.uses_postgres else 0
        assert (found[("checkin_door_batch_scans_count", ())], found[("checkin_door_batch_scans_sum", ())]) == (
            batches, batches)
        assert found[("checkin_door_batch_unnumbered_total", ())] == 0
        wrong = c.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 403
