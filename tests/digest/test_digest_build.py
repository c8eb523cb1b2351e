"""The pure digest builder: selection, reasons, "new since last digest", rendering."""

from __future__ import annotations

import numpy as np
import pytest

from paperwire.digest.builder import (DigestBuilder, Links, clean_snippet, lexical_rows, vector_rows)
from paperwire.models import Link, Paper
from paperwire.store.subscriptions import Subscriber

LINKS = Links("https://pw.test/preferences?token=T", "https://pw.test/unsubscribe?token=T")


def P(pid, title, cats=("cs.LG",), authors=("Ada Lovelace",), abstract="", listed="2026-07-01", links=()):
    return Paper(id=pid, title=title, title_display=title, abstract=abstract or f"About {title}.",
                 abstract_display=abstract or f"About {title}.", authors=list(authors), categories=list(cats),
                 listed=listed, links=list(links))


PAPERS = [
    P("2607.00001", "Diffusion models for protein design", cats=("q-bio.BM", "cs.LG"),
      abstract="We train denoising diffusion models to generate protein backbones.",
      links=[Link("https://github.com/acme/protdiff", "github")]),
    P("2607.00002", "A survey of speech recognition", cats=("cs.CL", "eess.AS"), authors=("Grace Hopper", "Alan Turing")),
    P("2607.00003", "Graph neural networks at scale", cats=("cs.LG",), authors=("Alan Turing",)),
    P("2607.00004", "Old news about category theory", cats=("math.CT",), listed="2026-06-29"),
    P("2607.00005", "Latent diffusion for images", cats=("cs.CV",),
      abstract="Latent diffusion models synthesize high resolution images with $\\mathbf{x}_t$ noise."),
]


def sub(**kw):
    base = dict(id=1, email="r@example.org", status="active", size=10)
    base.update(kw)
    return Subscriber(**base)


def builder(**kw):
    topics = kw.pop("topics", [])
    return DigestBuilder(PAPERS, period="daily:2026-07-01", site_name="pw", base_url="https://pw.test",
                         topic_rows=dict(zip(topics, lexical_rows(topics, PAPERS))), list_id="pw <digest.pw.test>",
                         **kw)


def test_categories_authors_and_reasons():
    b = builder()
    items = b.score(sub(categories=["cs.CL"], authors=["alan  turing"]))
    ids = [i.paper_id for i in items]
    # papers by a followed author come first; the category match also counts
    assert ids == ["2607.00002", "2607.00003"]
    assert items[0].why[:2] == ["by Alan Turing", "cs.CL"]
    assert items[1].why == ["by Alan Turing"]


def test_archive_prefix_matches_every_subcategory():
    ids = {i.paper_id for i in builder().score(sub(categories=["cs"]))}
    assert ids == {"2607.00001", "2607.00002", "2607.00003", "2607.00005"}


def test_topics_match_by_words_and_say_so():
    b = builder(topics=["diffusion models"])
    items = b.score(sub(topics=["Diffusion  Models"]))
    assert [i.paper_id for i in items][:2] == ["2607.00001", "2607.00005"]
    assert "matches your topic 'Diffusion  Models'" in items[0].why


def test_seed_papers_find_neighbours():
    vecs = np.eye(5, dtype=np.float32)
    vecs[4] = np.array([0.8, 0, 0, 0, 0.6], dtype=np.float32)  # paper 5 is close to paper 1
    rows = vector_rows(vecs[[0]], vecs)
    b = builder(seed_rows={"2607.00001": rows[0]})
    items = b.score(sub(seeds=["2607.00001"]))
    assert [i.paper_id for i in items] == ["2607.00001", "2607.00005"]
    assert items[1].why == ["similar to 2607.00001"]


def test_only_papers_new_since_the_last_digest():
    b = builder()
    everything = {i.paper_id for i in b.score(sub(categories=["math.CT", "cs.LG"]))}
    assert "2607.00004" in everything
    since = {i.paper_id for i in b.score(sub(categories=["math.CT", "cs.LG"], last_until="2026-06-30"))}
    assert "2607.00004" not in since and "2607.00003" in since
    assert b.score(sub(categories=["cs.LG"], last_until="2026-07-01")) == []


def test_size_and_trending_fallback_without_interests():
    trend = {"2607.00003": 5.0, "2607.00002": 1.0}
    b = builder(trend=trend)
    items = b.score(sub(size=2))
    assert [i.paper_id for i in items] == ["2607.00003", "2607.00002"]
    assert items[0].why == ["trending"]
    # with interests, trending breaks ties between equally matching papers
    items = b.score(sub(categories=["cs.LG"]))
    assert items[0].paper_id == "2607.00003" and "trending" in items[0].why


def test_empty_period_sends_nothing_unless_configured():
    assert builder().build(sub(categories=["hep-th"]), LINKS) is None
    d = builder(send_empty=True).build(sub(categories=["hep-th"]), LINKS)
    assert d is not None and d.items == [] and "No new papers matched" in d.text


def test_rendered_digest_has_everything_and_escapes():
    evil = P("2607.00009", "<script>alert(1)</script> Diffusion & friends", cats=("cs.LG",))
    b = DigestBuilder([*PAPERS, evil], period="daily:2026-07-01", site_name="pw", base_url="https://pw.test",
                      trending_week=[PAPERS[1]], list_id="pw <digest.pw.test>")
    d = b.build(sub(categories=["cs.LG"], topics=["<b>x</b>"]), LINKS)
    assert "<script>alert(1)" not in d.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in d.html
    assert "&lt;b&gt;x&lt;/b&gt;" in d.html
    assert "<script>alert(1)</script> Diffusion & friends" in d.text  # plain text is plain
    for part in (d.text, d.html):
        assert "Diffusion models for protein design" in part
        assert "https://github.com/acme/protdiff" in part  # code link
        assert "Ada Lovelace" in part and "q-bio.BM" in part
        assert "Why: cs.LG" in part
        assert "Trending this week".lower() in part.lower()
        assert "A survey of speech recognition" in part  # the trending section
        assert LINKS.preferences in part and LINKS.unsubscribe in part
    assert d.headers == {"List-Unsubscribe": f"<{LINKS.unsubscribe}>",
                         "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "List-Id": "pw <digest.pw.test>"}
    assert d.subject == "pw: 3 new papers for you \u2014 Diffusion models for protein design"
    # TeX markup is cleaned from snippets
    assert "mathbf" not in d.text and "$" not in clean_snippet(PAPERS[4].abstract)


def test_snippet_is_cut_at_a_word():
    s = clean_snippet("word " * 200, limit=50)
    assert len(s) <= 51 and s.endswith("\u2026") and not s.endswith(" \u2026")


@pytest.mark.parametrize("n_sub", [200])
def test_builder_is_deterministic_over_many_subscribers(n_sub):
    b = builder(topics=["diffusion models", "speech"])
    rng = np.random.default_rng(0)
    cats = ["cs.LG", "cs.CL", "cs.CV", "math.CT", "q-bio.BM"]
    subs = [sub(id=i, categories=list(rng.choice(cats, 2, replace=False)), topics=["speech"] if i % 3 else [])
            for i in range(n_sub)]
    first = [[(x.paper_id, x.why) for x in b.score(s)] for s in subs]
    again = [[(x.paper_id, x.why) for x in b.score(s)] for s in subs]
    assert first == again and all(first)
