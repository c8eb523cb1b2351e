"""Fixtures of the digest tests: a copy of the demo store whose mail goes to a real SMTP server."""

import pytest

from digest_support import demo_db, mail_settings
from paperwire.store import open_store


@pytest.fixture
def mail_env(tmp_path, smtp):
    """(store, settings, recorded mail): a copy of the demo data, its mail going to `smtp`."""
    settings = mail_settings(demo_db(tmp_path), smtp.port)
    store = open_store(settings)
    yield store, settings, smtp.handler
    store.close()
