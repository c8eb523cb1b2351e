"""`paperwire show` and `latest` print TeX in titles and abstracts as readable Unicode text."""

import re

from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.store import open_store

RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\(?:times|mu|emph|textbf|alpha|mathcal|sim|geq|leq)\b")


def test_show_prints_tex_as_text(site_settings):
    db = site_settings.db  # this test's copy of the demo site: a SQLite file or a PostgreSQL database
    store = open_store(site_settings)
    # ESCAPE names an escape character neither pattern holds: PostgreSQL's LIKE would otherwise
    # read the backslash as one (SQLite's has none)
    ids = [r[0] for r in store.query(
        "SELECT id FROM papers WHERE abstract_display LIKE ? ESCAPE '!' OR abstract_display LIKE ? ESCAPE '!' "
        "ORDER BY id LIMIT 5", ("%$\\times$%", "%\\emph{%"))]
    store.close()
    assert ids, "the demo has abstracts with \\times or \\emph"
    for pid in ids:
        r = CliRunner().invoke(cli, ["--db", str(db), "show", pid])
        assert r.exit_code == 0, r.output
        assert not RAW_TEX.search(r.output), (pid, RAW_TEX.search(r.output).group(0))
