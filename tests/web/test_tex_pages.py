"""Demo papers whose titles or abstracts hold TeX: their pages show formulas as MathML and no
raw `$...$` or `\\command` as text; feeds show the same text as Unicode."""

from __future__ import annotations

import re

import feedparser
from lxml import html as lxml_html

RAW_TEX = re.compile(r"\$[^$]+\$|\\[A-Za-z]+")


def _tex_papers(app, n=15):
    rows = app.state.store.query(
        "SELECT id FROM papers WHERE hidden=0 AND (abstract_display LIKE '%$\\%$%' ESCAPE '!' "
        "OR title_display LIKE '%\\%' OR abstract_display LIKE '%\\emph{%') ORDER BY id LIMIT ?", (n,))
    ids = [r[0] for r in rows]
    assert len(ids) >= 5, "the demo has papers with TeX"
    return ids


def _visible(page_html: str) -> str:
    """The paper's own text (its article element), scripts and forms left out."""
    doc = lxml_html.fromstring(page_html)
    for junk in doc.xpath("//script|//style|//form"):
        junk.drop_tree()
    return " ".join(doc.xpath("//article[contains(@class, 'paper')]")[0].itertext())


def test_paper_pages_render_tex(client, app):
    mathml = 0
    for pid in _tex_papers(app):
        r = client.get(f"/papers/{pid}")
        assert r.status_code == 200
        text = _visible(r.text)
        assert not RAW_TEX.search(text), (pid, RAW_TEX.search(text).group(0))
        mathml += r.text.count("<math")
    assert mathml > 0


def test_feeds_read_tex_as_unicode(client, app):
    for pid in _tex_papers(app, 5):
        author = app.state.store.query_one("SELECT authors FROM papers WHERE id=?", (pid,))[0]
        name = re.search(r'"([^"]+)"', author).group(1)
        feed = feedparser.parse(client.get(f"/feeds/author/{name}.atom").content)
        entry = next(e for e in feed.entries if e.link.endswith("/papers/" + pid))
        assert not RAW_TEX.search(entry.title + " " + entry.summary), (pid, entry.summary[:200])


def test_search_snippets_read_tex(client):
    found = 0
    for q in ("faster", "speedup", "accuracy"):
        r = client.get("/papers", params={"q": q})
        assert r.status_code == 200
        for snippet in re.findall(r'<p class="snippet">(.*?)</p>', r.text, re.S):
            text = re.sub(r"<[^>]+>", "", snippet)
            assert not RAW_TEX.search(text), (q, text[:200])
            found += "×" in text
    assert found  # the demo's "100$\times$ faster" and the like, read
