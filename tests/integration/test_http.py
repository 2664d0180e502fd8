"""The HTTP API reads cases and views, as of now or any instant, and maps errors to problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from ledger.settings import Settings
from tests.conftest import Clock
from tests.world import World


def local(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").astimezone(UTC)


@pytest.fixture
def client(world: World, clock: Clock, database_url: str) -> Iterator[TestClient]:
    w = world
    clock.now = local("2025-03-03 12:00")
    cid = w.register(local("2025-03-03 09:00")).aggregate_id
    for action, at, arguments in [
        ("route", "2025-03-04 09:00", {"to_unit": w.housing}),
        ("accept", "2025-03-05 09:00", {}),
        (
            "reply",
            "2025-07-01 09:00",
            {"outcome": "支持", "text": "已处理", "delivered_at": local("2025-07-02 09:00")},
        ),
    ]:
        clock.now = local(at) + timedelta(hours=1)  # each written an hour after it happened
        actor = w.at_office if action == "route" else w.at_housing
        w.act(cid, action, actor, local(at), **arguments)
    clock.now = local("2025-08-01 12:00")
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client


def test_a_case_its_history_chain_and_summary(client: TestClient) -> None:
    case = client.get("/cases/XF-2025-00001")
    assert case.status_code == 200 and case.json()["stage"] == "已答复"
    then = client.get("/cases/XF-2025-00001", params={"as_of": "2025-03-03T23:59:59+08:00"})
    assert then.json()["stage"] == "已登记"
    assert [e["type"] for e in client.get("/cases/XF-2025-00001/history").json()] == [
        "Registered",
        "Routed",
        "Accepted",
        "Replied",
    ]
    chain = client.get("/cases/XF-2025-00001/chain").json()
    assert chain[-2]["holder_unit"] == "市住建局" and chain[-2]["overdue_days"] == 55.4
    summary = client.get(
        "/cases/XF-2025-00001/summary", params={"as_of": "2025-05-10T12:00:00+08:00"}
    ).json()
    assert summary["deadline_status"] == "overdue" and summary["overdue_days"] == 3.5


def test_views_over_http(client: TestClient) -> None:
    delay = client.get("/views/delay", params={"by": "unit"}).json()
    assert delay[0]["party"] == "市住建局" and delay[0]["overdue_days"] == 55.4
    assert client.get("/views/patterns").status_code == 200
    assert client.get("/views/statistics/2025-07").json()["handling_units"]
    health = client.get("/healthz").json()
    assert health["status"] == "ok"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/cases/XF-2025-99999", 404, "not-found"),
        ("/cases/hello", 422, "invalid-input"),
        ("/cases/XF-2025-00001?as_of=2025-03-03T09:00:00", 422, "invalid-input"),
    ],
)
def test_errors_are_problem_documents(
    client: TestClient, path: str, status: int, kind: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(kind)
