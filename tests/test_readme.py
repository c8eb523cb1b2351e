"""The README is a newcomer's page: short, the two commands first, and every link and picture in
it (and in docs/) pointing at a file that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "bash scripts/demo.sh" in first_block and "bash scripts/test.sh" in first_block
    for gone in ("previous version", "rec/s", "p95"):  # figures and history live in docs/performance.md
        assert gone not in text, gone


def test_every_relative_link_and_image_exists():
    missing = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not missing, missing
