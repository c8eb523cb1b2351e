"""Headless Debian Chromium for browser tests (installed by scripts/setup.sh --test).

No skip when it is missing: a browser test that cannot run must fail, not pass quietly.
"""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# without the background-networking flags Chromium keeps dialling out on a closed network
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
DOCS = Path(__file__).parent.parent / "docs"
MARKS = [pytest.mark.browser, pytest.mark.slow]
