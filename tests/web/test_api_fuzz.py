"""OpenAPI schema fuzzed with schemathesis: no request, however odd, gets a 500.

(schemathesis' own pytest plugin does not load under this pytest version, so the test walks
the schema's operations and drives each operation's hypothesis strategy itself.)
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings


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
