"""OpenAPI schema fuzzed with schemathesis: no request, however odd, gets a 500, and every
answer is the one the document promises.

(schemathesis' own pytest plugin does not load under this pytest version: test_api_never_500
drives each operation's hypothesis strategy itself; the conformance test runs schemathesis'
engine, the one `schemathesis run` uses, in process.)
"""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.slow
def test_api_never_500(site_settings):
    from paperwire.web.app import create_app

    app = create_app(dataclasses.replace(site_settings, secret_key="f" * 40, encode_timeout=0.3, rate_limit_factor=0))
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


@pytest.fixture
def arxiv_without_the_paper():
    """A local arXiv query API answering every query as arXiv answers an id it does not have
    (a recorded real answer): submitting an unknown id asks it, quickly and off the network."""
    import http.server
    import json
    import threading

    from repo_paths import DATA

    recorded = json.loads((DATA / "arxiv-api-responses/atom_arxiv_py/raw_json/"
                                   "id_0000.0000_s0_m100_8b51d9633a68.json").read_text())["body"].encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(recorded)))
            self.end_headers()
            self.wfile.write(recorded)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/query"
    server.shutdown()
    server.server_close()


def _fuzz_app(site_settings, arxiv_api_url="http://127.0.0.1:9/api/query"):
    from paperwire.digest import subscriptions as dsub
    from paperwire.store import users
    from paperwire.web.app import create_app
    from digest_support import active, token_of

    app = create_app(dataclasses.replace(site_settings, secret_key="c" * 40, encode_timeout=0.3, rate_limit_factor=0,
                                         arxiv_api_url=arxiv_api_url))
    app.state.similar_timeout = 0
    owner = users.create_user(app.state.store, "fuzz@example.org", "fuzzer", "a long password")
    bearer = users.create_token(app.state.store, owner.id, "fuzz")
    sub = active(app.state.store, app.state.settings, "fuzzsub@example.org")
    manage = token_of(dsub.links_for(app.state.settings, sub).preferences)
    return app, bearer, manage


def _with_real_examples(app) -> set[str]:
    """Put ids of real papers into the served document as examples (schemathesis' examples
    phase sends them), so the operations on a paper are reached with one that exists, not
    only with the random ids that get 404. Answers the labels of the operations given one."""
    from paperwire.store import listings

    store = app.state.store
    day = listings.latest_listing_day(store)
    fresh = [c.id for c in listings.cards(store, listings.new_ids(store, day, day, limit=50)[0]) if not c.curated_on]
    known = fresh[-1]
    bodies = {("post", "/api/papers/submit"): {"paperId": fresh[0]}, ("post", "/api/v1/submissions"): {"id": fresh[1]},
              ("post", "/api/papers/{paper_id}/comment"): {"comment": "A fine **paper**."},
              ("post", "/api/v1/recommendations/feedback"): {"paper_id": known, "action": "up"}}
    doc, given = app.openapi(), set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                if param["name"] == "paper_id":
                    param["example"] = known
                    given.add(f"{method.upper()} {path}")
            if (method, path) in bodies:
                op["requestBody"]["content"]["application/json"]["example"] = bodies[(method, path)]
                given.add(f"{method.upper()} {path}")
    return given


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(site_settings, arxiv_without_the_paper):
    """schemathesis' own engine, as `schemathesis run --checks all` drives it (examples,
    coverage, fuzzing and stateful phases; positive and negative data), over every operation of
    the document, with a valid API token and a valid signed subscription link, so the operations
    behind them are reached: every check the installed schemathesis has, none left out, and not
    one failure. Seeded and derandomised, so a run repeats."""
    import collections

    from schemathesis import checks as st_checks
    from schemathesis.engine import Status, events, from_schema

    app, bearer, manage = _fuzz_app(site_settings, arxiv_without_the_paper)
    with_examples = _with_real_examples(app)
    st_checks.load_all_checks()
    every_check = {c.__name__ for c in st_checks.CHECKS.get_all()}
    assert len(every_check) >= 14
    config = schemathesis.Config.from_dict({
        "seed": 20260101, "workers": 1, "suppress-health-check": ["all"], "request-timeout": 120,
        "generation": {"mode": "all", "max-examples": 10, "deterministic": True},
        # every check, and a response time bound well above the slowest answer (the first
        # recommendations build their model: seconds on a loaded machine)
        "checks": {"enabled": True, "max_response_time": 60},
        "auth": {"openapi": {"HTTPBearer": {"bearer": bearer}}},
        "parameters": {"query.token": manage},
    })
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=config)
    labels = {op.ok().label for op in schema.get_all_operations()}
    paths = {label.split(" ", 1)[1] for label in labels}
    assert {"/api/v1/subscriptions/me", "/api/v1/papers/{paper_id}/upvote", "/api/v1/submissions"} <= paths
    # pages are HTML and stay out of the API document
    assert not paths & {"/subscribe", "/preferences", "/unsubscribe"}

    failures, errors, ran = [], [], collections.Counter()
    answered = collections.defaultdict(set)
    for event in from_schema(schema).execute():
        if isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(str(getattr(event, "value", event))[:300])
        if not isinstance(event, events.ScenarioFinished):
            continue
        for case_id, interaction in event.recorder.interactions.items():
            if interaction.response is not None:
                answered[event.recorder.cases[case_id].value.operation.label].add(interaction.response.status_code)
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                ran[check.name] += 1
                if check.status == Status.FAILURE:
                    case = event.recorder.cases[case_id].value
                    failures.append((str(event.phase), case.method, case.formatted_path, case.query, check.name,
                                     str(check.failure_info.failure.title if check.failure_info else "")[:200]))
    assert not errors, errors[:3]
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}"
    assert every_check <= set(ran), every_check - set(ran)
    assert sum(ran.values()) >= 5000
    # every operation answered, and every one with a real paper or a token answered a 2xx at least once
    assert set(answered) == labels
    unreached = {label for label in labels if not any(200 <= s < 300 for s in answered[label])}
    assert not unreached & (with_examples | {label for label in labels if "/me" in label}), unreached


def _json_values():
    text = st.text(max_size=20) | st.sampled_from(["\ud800", "\udfff", "\ufffe", "\uffff", "\x00", "a\x00b",
                                                    "javascript:alert(1)", "../..", "%00"])
    return st.recursive(st.none() | st.booleans() | st.integers(min_value=-(2 ** 100), max_value=2 ** 100)
                        | st.floats(allow_nan=True, allow_infinity=True) | text,
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                        max_leaves=10)


@pytest.mark.slow
def test_any_json_body_or_form_gets_an_answer_never_a_500(site_settings):
    """Arbitrary JSON values and Unicode (surrogates, U+FFFE/FFFF, NUL, huge and non-finite
    numbers) at every JSON body and every form of the site: never a 5xx, never a traceback."""
    import json

    from fastapi.testclient import TestClient

    app, bearer, manage = _fuzz_app(site_settings)
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
