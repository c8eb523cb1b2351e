"""Every setting and every command is documented: docs/ is generated and must be current."""

import importlib.util
from pathlib import Path

from paperwire.config import documented_settings

ROOT = Path(__file__).resolve().parent.parent


def _gen():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts/gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_setting_has_help_text():
    missing = [name for name, _, help_text in documented_settings() if not help_text.strip()]
    assert missing == []


def test_docs_config_and_cli_are_current():
    gen = _gen()
    assert (ROOT / "docs/config.md").read_text() == gen.config_md(), "run: python scripts/gen_docs.py"
    assert (ROOT / "docs/cli.md").read_text() == gen.cli_md(), "run: python scripts/gen_docs.py"


def test_every_command_appears_in_docs():
    from paperwire.cli import cli

    text = (ROOT / "docs/cli.md").read_text()
    for name in cli.list_commands(None):
        assert f"## `paperwire {name}" in text
