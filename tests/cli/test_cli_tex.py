"""`paperwire show` and `latest` print TeX in titles and abstracts as readable Unicode text."""

import re
import shutil

from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.store import open_store

RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\(?:times|mu|emph|textbf|alpha|mathcal|sim|geq|leq)\b")


def test_show_prints_tex_as_text(site_template_db, tmp_path):
    db = tmp_path / "demo.db"
    shutil.copy(site_template_db, db)
    store = open_store(str(db))
    ids = [r[0] for r in store.query(
        "SELECT id FROM papers WHERE abstract_display LIKE '%$\\times$%' OR abstract_display LIKE '%\\emph{%' "
        "ORDER BY id LIMIT 5")]
    store.close()
    assert ids, "the demo has abstracts with \\times or \\emph"
    for pid in ids:
        r = CliRunner().invoke(cli, ["--db", str(db), "show", pid])
        assert r.exit_code == 0, r.output
        assert not RAW_TEX.search(r.output), (pid, RAW_TEX.search(r.output).group(0))
