"""The API takes what its OpenAPI document says, and refuses the rest with the status of the
refusal's kind: malformed 422, no such day/week/paper 404, a conflict with the state (already on
a list, too old for the open lists) 409, a spent daily allowance 429; and a 405 names every
method of its path."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from paperwire.store import listings, users
from paperwire.text import canonical_id
from paperwire.validate import (ARXIV_ID_PATTERN, ARXIV_ID_TEXT_PATTERN, DAY_PATTERN, ISO_WEEK_PATTERN,
                                MONTH_PATTERN, NONBLANK_TEXT_PATTERN)
from web_support import make_user


# --- the patterns say what the code takes ---------------------------------------------------------

@given(st.from_regex(ARXIV_ID_PATTERN, fullmatch=True) | st.from_regex(ARXIV_ID_TEXT_PATTERN, fullmatch=True))
@settings(max_examples=300, deadline=None)
def test_every_id_the_document_allows_is_an_arxiv_id(raw):
    assert canonical_id(raw) is not None, raw


@pytest.mark.parametrize("raw", ["2501.01234", "2501.01234v12", "0704.0001", "hep-th/9901001v2", "math.AG/0601001",
                                 "arXiv:2501.01234", "ARXIV:hep-th/9901001", "https://arxiv.org/abs/2501.01234v3",
                                 "HTTP://ARXIV.ORG/PDF/2501.01234.pdf", "oai:arXiv.org:2501.01234", "2501.01234.pdf"])
def test_the_id_forms_people_paste_are_in_the_document(raw):
    assert canonical_id(raw) and re.match(ARXIV_ID_PATTERN, raw) and re.match(ARXIV_ID_TEXT_PATTERN, f" {raw}\n")


@pytest.mark.parametrize("raw", ["", "2501.123", "2501.123456", "٢٥٠١.٠١٢٣٤", "hep-th/99", "javascript:alert(1)",
                                 "2501.01234 x", "../2501.01234"])
def test_what_is_no_arxiv_id_is_outside_the_document(raw):
    assert not re.match(ARXIV_ID_TEXT_PATTERN, raw)


@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_real_day_week_and_month_has_a_key_the_document_allows(day):
    year, week, _ = day.isocalendar()
    assert re.match(DAY_PATTERN, day.isoformat())
    assert re.match(ISO_WEEK_PATTERN, f"{year:04d}-W{week:02d}")
    assert re.match(MONTH_PATTERN, day.isoformat()[:7])


@pytest.mark.parametrize("text, ok", [("a", True), ("  x  ", True), ("\u3000\u00a0 y", True), ("", False),
                                      (" \n\t\r", False), ("\u2003\u0085", False), ("a\x00", False), ("\ufffe", False)])
def test_a_comment_must_have_something_besides_blanks(text, ok):
    assert bool(re.match(NONBLANK_TEXT_PATTERN, text)) == ok


# --- the routes answer as the document says -------------------------------------------------------

def test_a_period_is_malformed_422_missing_404_or_listed_200(client):
    assert client.get("/api/daily_papers", params={"date": "2026-6-15"}).status_code == 422
    assert client.get("/api/daily_papers", params={"week": "2026-W00"}).status_code == 422
    assert client.get("/api/daily_papers", params={"month": "2026-00"}).status_code == 422
    for key in ({"date": "2025-02-29"}, {"week": "2025-W53"}, {"date": "0000-01-01"}, {"month": "9999-12"}):
        r = client.get("/api/daily_papers", params=key)
        assert r.status_code in (200, 404) and (r.status_code == 200 or next(iter(key.values())) in r.json()["error"])
    assert client.get("/api/daily_papers", params={"date": "2025-02-29"}).status_code == 404
    assert client.get("/api/daily_papers", params={"date": "2024-02-29"}).json() == []  # a day, with no list


def test_an_id_outside_the_document_never_reaches_a_paper_route(client, app, shared_hash):
    auth = {"Authorization": f"Bearer {users.create_token(app.state.store, make_user(app.state.store, 'ids', shared_hash).id, 't')}"}
    for bad in ("not-an-id", "2501.123", "%D9%A2%D9%A5%D9%A0%D9%A1.%D9%A0%D9%A1%D9%A2%D9%A3%D9%A4"):
        assert client.get(f"/api/papers/{bad}").status_code == 404
        assert client.post(f"/api/v1/papers/{bad}/upvote", headers=auth).status_code == 404
    assert client.post("/api/v1/submissions", json={"id": "not an id"}, headers=auth).status_code == 422
    assert client.post("/api/papers/submit", json={"paperId": "2501.1"}, headers=auth).status_code == 422


def _fresh(store, n: int) -> list[str]:
    day = listings.latest_listing_day(store)
    return [c.id for c in listings.cards(store, listings.new_ids(store, day, day, limit=60)[0]) if not c.curated_on][:n]


def test_submission_refusals_carry_the_status_of_their_kind(site_settings, shared_hash):
    from paperwire.web.app import create_app

    # one submission a day; arXiv unreachable (a closed port): an unknown id cannot be fetched
    app = create_app(dataclasses.replace(site_settings, submit_daily_limit=1, arxiv_api_url="http://127.0.0.1:9/q"))
    store = app.state.store
    auth = {"Authorization": f"Bearer {users.create_token(store, make_user(store, 'subm', shared_hash).id, 't')}"}
    first, second = _fresh(store, 2)
    newest = listings.latest_listing_day(store)
    old = next(c for c in listings.cards(store, listings.new_ids(store, "0001-01-01", (
        date.fromisoformat(newest) - timedelta(days=10)).isoformat(), limit=2000)[0]) if not c.curated_on)
    featured_day = listings.latest_curated_day(store)
    featured = listings.curated_ids(store, featured_day, featured_day, limit=1)[0][0]
    with TestClient(app) as client:
        # blanks of a copy and paste around the id are fine
        assert client.post("/api/v1/submissions", json={"id": f" {first}\n"}, headers=auth).status_code == 201
        again = client.post("/api/papers/submit", json={"paperId": first}, headers=auth)
        assert again.status_code == 409 and "already" in again.json()["error"]
        assert client.post("/api/v1/submissions", json={"id": featured}, headers=auth).status_code == 409
        too_old = client.post("/api/v1/submissions", json={"id": old.id}, headers=auth)
        assert too_old.status_code == 409 and "only papers from the last" in too_old.json()["error"]
        spent = client.post("/api/papers/submit", json={"paperId": second}, headers=auth)
        assert spent.status_code == 429 and "a day" in spent.json()["error"]
        assert 0 < int(spent.headers["retry-after"]) <= 86400
        unknown = client.post("/api/v1/submissions", json={"id": "2512.99999"}, headers=auth)
        assert unknown.status_code == 404 and "could not be fetched" in unknown.json()["error"]
    store.close()


def test_a_comment_is_refused_by_the_document_when_blank_or_too_long(client, app, shared_hash):
    store = app.state.store
    auth = {"Authorization": f"Bearer {users.create_token(store, make_user(store, 'cmt', shared_hash).id, 't')}"}
    pid = _fresh(store, 1)[0]
    for body in (" \n ", "\u3000", "x" * (users.MAX_COMMENT + 1)):
        assert client.post(f"/api/papers/{pid}/comment", json={"comment": body}, headers=auth).status_code == 422
    ok = client.post(f"/api/papers/{pid}/comment", json={"comment": " " + "x" * (users.MAX_COMMENT - 1)}, headers=auth)
    assert ok.status_code == 201 and ok.json()["comment"] == "x" * (users.MAX_COMMENT - 1)


def test_a_405_names_every_method_of_its_path(client):
    assert client.options("/api/v1/subscriptions/me").headers["allow"] == "GET, PATCH, DELETE"
    r = client.put("/api/v1/papers/2501.01234/upvote")
    assert r.status_code == 405 and r.headers["allow"] == "POST, DELETE"
    # /api/papers/submit is the submit route's alone (not a paper called "submit")
    r = client.get("/api/papers/submit")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert client.put("/signin").headers["allow"] == "GET, POST"
    # static files answer their own 405, and say so
    r = client.post("/static/api-docs.js")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_the_document_states_the_patterns_and_the_extra_members(client):
    doc = client.get("/api/openapi.json").json()
    daily = {p["name"]: p["schema"] for p in doc["paths"]["/api/daily_papers"]["get"]["parameters"]}
    assert daily["date"]["anyOf"][0]["pattern"] == DAY_PATTERN and daily["week"]["anyOf"][0]["pattern"] == ISO_WEEK_PATTERN
    pid = doc["paths"]["/api/papers/{paper_id}"]["get"]["parameters"][0]["schema"]
    assert pid["pattern"] == ARXIV_ID_PATTERN
    submit = doc["components"]["schemas"]["HubSubmitIn"]
    assert submit["properties"]["paperId"]["pattern"] == ARXIV_ID_TEXT_PATTERN
    assert submit["additionalProperties"] == {"$ref": "#/components/schemas/JSONValue"}
    assert doc["components"]["schemas"]["FeedbackIn"]["properties"]["action"]["enum"] == ["up", "dismiss"]
