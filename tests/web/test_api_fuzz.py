"""OpenAPI schema fuzzed with schemathesis: no request, however odd, gets a 500.

(schemathesis' own pytest plugin does not load under this pytest version, so the test walks
the schema's operations and drives each operation's hypothesis strategy itself.)
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.slow
def test_api_never_500(site_template_db, tmp_path):
    from paperwire.web.app import create_app
    from paperwire.config import Settings

    db = tmp_path / "fuzz.db"
    shutil.copy(site_template_db, db)
    app = create_app(Settings.load(env={}, db=str(db), secret_key="f" * 40, encode_timeout=0.3, rate_limit_factor=0))
    app.state.similar_timeout = 0
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 10
    failures, calls, ok = [], 0, 0

    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            nonlocal calls, ok
            calls += 1
            response = case.call()
            ok += response.status_code < 300
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, response.status_code, response.text[:200]))

        check()
    assert calls >= 100 and ok >= 20  # the fuzzing reached real answers, not only 4xx
    assert not failures, failures[:5]


def _fuzz_app(site_template_db, tmp_path):
    from paperwire.config import Settings
    from paperwire.digest import subscriptions as dsub
    from paperwire.store import users
    from paperwire.web.app import create_app
    from digest_support import active, token_of

    db = tmp_path / "conform.db"
    shutil.copy(site_template_db, db)
    app = create_app(Settings.load(env={}, db=str(db), secret_key="c" * 40, encode_timeout=0.3, rate_limit_factor=0))
    app.state.similar_timeout = 0
    owner = users.create_user(app.state.store, "fuzz@example.org", "fuzzer", "a long password")
    bearer = users.create_token(app.state.store, owner.id, "fuzz")
    sub = active(app.state.store, app.state.settings, "fuzzsub@example.org")
    manage = token_of(dsub.links_for(app.state.settings, sub).preferences)
    return app, bearer, manage


# Every conformance check schemathesis has, on every operation of the document, with a valid API
# token and a valid signed subscription link, so the operations behind them are reached. One is
# left out, and said so: positive_data_acceptance (a schema-valid request must not get a 4xx
# other than 401/403/404/409/429) still fails on the Hugging Face routes' period keys and paper
# ids, whose 400 answers other tests pin (docs/security.md, "Not yet").
_CONFORMANCE_OFF = {"positive_data_acceptance"}


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(site_template_db, tmp_path):
    from schemathesis import checks as st_checks

    app, bearer, manage = _fuzz_app(site_template_db, tmp_path)
    st_checks.load_all_checks()
    enabled = [c for c in st_checks.CHECKS.get_all() if c.__name__ not in _CONFORMANCE_OFF]
    assert len(enabled) >= 12
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/api/v1/subscriptions/me", "/api/v1/papers/{paper_id}/upvote", "/api/v1/submissions"} <= paths
    # pages are HTML and stay out of the API document
    assert not paths & {"/subscribe", "/preferences", "/unsubscribe"}
    failures, calls, reached = [], 0, 0
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            nonlocal calls, reached
            if case.query is not None and "token" in case.query:
                case.query["token"] = manage
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {bearer}"}
            calls += 1
            # the first recommendations build their model (seconds on a loaded machine)
            response = case.call(timeout=120)
            reached += response.status_code < 300
            try:
                case.validate_response(response, checks=enabled)
            except Exception as exc:  # schemathesis' FailureGroup: one entry per failed check
                for failure in getattr(exc, "exceptions", [exc]):
                    failures.append((case.method, case.formatted_path, response.status_code,
                                     type(failure).__name__, str(failure)[:300]))

        check()
    assert calls >= 150 and reached >= 30
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}"


def _json_values():
    text = st.text(max_size=20) | st.sampled_from(["\ud800", "\udfff", "\ufffe", "\uffff", "\x00", "a\x00b",
                                                    "javascript:alert(1)", "../..", "%00"])
    return st.recursive(st.none() | st.booleans() | st.integers(min_value=-(2 ** 100), max_value=2 ** 100)
                        | st.floats(allow_nan=True, allow_infinity=True) | text,
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                        max_leaves=10)


@pytest.mark.slow
def test_any_json_body_or_form_gets_an_answer_never_a_500(site_template_db, tmp_path):
    """Arbitrary JSON values and Unicode (surrogates, U+FFFE/FFFF, NUL, huge and non-finite
    numbers) at every JSON body and every form of the site: never a 5xx, never a traceback."""
    import json

    from fastapi.testclient import TestClient

    app, bearer, manage = _fuzz_app(site_template_db, tmp_path)
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    client.post("/signin", data={"csrf": _csrf(client), "email": "fuzz@example.org", "password": "a long password"})
    pid = app.state.store.query_one("SELECT id FROM papers WHERE hidden=0 LIMIT 1")[0]
    json_routes = [("POST", "/api/v1/subscriptions", {}), ("PATCH", "/api/v1/subscriptions/me", {"token": manage}),
                   ("POST", "/api/v1/submissions", {}), ("POST", "/api/v1/recommendations/feedback", {}),
                   ("POST", f"/api/v1/papers/{pid}/upvote", {})]
    form_routes = ["/signin", "/signup", "/reset", "/subscribe", f"/preferences?token={manage}", "/settings/tokens",
                   f"/papers/{pid}/comments", f"/papers/{pid}/upvote", "/submit", "/foryou/feedback", "/foryou/follow"]
    seen = []

    @given(route=st.sampled_from(json_routes), body=_json_values(), raw=st.booleans())
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def json_bodies(route, body, raw):
        method, url, params = route
        # json.dumps writes \\ud800 escapes and Infinity/NaN, as a hostile client may
        text = json.dumps(body) if raw or not isinstance(body, dict) else json.dumps({"email": "f@example.org", **body})
        r = client.request(method, url, params=params, content=text,
                           headers={"content-type": "application/json", "Authorization": f"Bearer {bearer}"})
        seen.append(r.status_code)
        assert r.status_code < 500, (method, url, text[:200], r.text[:300])
        assert "Traceback" not in r.text

    @given(url=st.sampled_from(form_routes), fields=st.dictionaries(
        st.sampled_from(["email", "password", "username", "body", "topics", "categories", "authors", "size",
                         "frequency", "arxiv_id", "paper_id", "action", "name", "kind", "value", "next", "seeds"]),
        st.text(max_size=30) | st.sampled_from(["\x00", "\uffff", "\ufffe", "1e999", "Infinity", "-1", "..", ""]),
        max_size=6))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def forms(url, fields):
        data = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
        r = client.post(url, data={"csrf": _csrf(client), **data})
        seen.append(r.status_code)
        assert r.status_code < 500, (url, fields, r.text[:300])
        assert "Traceback" not in r.text

    json_bodies()
    forms()
    assert any(s < 300 for s in seen) and any(s == 400 for s in seen)


def _csrf(client) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
