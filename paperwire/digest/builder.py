"""Digest builder: data in, message out. No database, no network, no clock.

One ``DigestBuilder`` is made per run over the period's new papers; ``build(subscriber)`` is
then called once per subscriber. Everything that is the same for every subscriber is done
once in the constructor, so a run over 100,000 subscribers costs little more per subscriber
than a few numpy operations over the period's papers and one small template render:

- interests are scored with numpy over the period's papers: one boolean array per category
  and per author, one score row per distinct topic (a saved search) and per seed paper,
  computed once by the caller (``paperwire.digest.period`` runs the topics through the hybrid search
  when the search index is available, else ``lexical_rows`` below);
- each paper's block (title, authors, categories, snippet, links) is rendered once, in HTML
  and in text; a subscriber's digest stitches those blocks with its own "why chosen" lines;
- the "trending this week" blocks are rendered once, too.

Score of a new paper p for a subscriber (only papers matching an interest qualify; a
subscriber without interests gets the period's trending papers):

    score = W_AUTHOR*author(p) + W_TOPIC*topic(p) + W_SEED*seed(p) + W_CATEGORY*category(p)
            + W_TREND*trend(p)

with author/category in {0, 1}, topic/seed the best row value in [0, 1] over the
subscriber's topics/seeds, and trend the paper's trending score divided by the period's
highest. The weights are below; the reasons shown are the terms that contributed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import quote

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from paperwire.models import Paper
from paperwire.text import extract_links, tex_to_text
from paperwire.validate import http_url

W_AUTHOR = 3.0
W_TOPIC = 2.0
W_SEED = 1.5
W_CATEGORY = 1.0
W_TREND = 0.75

SNIPPET_CHARS = 320
TRENDING_SHOWN = 3
_WHY = "\x00WHY\x00"  # placeholder in a pre-rendered item block, replaced per subscriber
_FB = "\x00FB\x00"  # ... where the item's feedback links go (empty without a feedback token)
_TOK = "\x00TOK\x00"  # ... the subscriber's feedback token inside those links
FOR_YOU_SHOWN = 5

TEMPLATE_DIR = Path(__file__).parent / "templates"


@functools.cache
def template_env() -> Environment:
    """The one Jinja environment of every e-mail (digests, confirmations, reminders).

    Escaping follows the file's kind: .html templates escape every value, .txt templates are
    plain text and escape nothing (an "&" in a title must stay an "&" there); any other kind
    escapes, so a template added without thought is safe rather than injectable."""
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                       autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",),
                                                    default_for_string=True, default=True),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_email(name: str, context: dict) -> str:
    """One e-mail template (e.g. "email/confirm.txt") rendered with `context`."""
    return template_env().get_template(name).render(context)


# --- text helpers -------------------------------------------------------------------------

_TEX_CMD = re.compile(r"\\(?:mathrm|mathbf|mathcal|mathit|text|textbf|textit|emph|operatorname|mathbb)\s*")
_TEX_OTHER = re.compile(r"\\([A-Za-z]+)")


def clean_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The abstract's opening, without TeX markup, cut at a word boundary."""
    s = text or ""
    s = s.replace("$", "")
    s = _TEX_CMD.sub("", s)
    s = _TEX_OTHER.sub(r"\1", s)
    s = re.sub(r"[{}]", "", s)
    s = re.sub(r"\s+", " ", s).strip()
    if len(s) <= limit:
        return s
    cut = s[:limit]
    sp = cut.rfind(" ")
    if sp > limit * 0.6:
        cut = cut[:sp]
    return cut.rstrip(" ,;:.") + "\u2026"


def norm_name(name: str) -> str:
    return re.sub(r"\s+", " ", (name or "").strip().lower())


def norm_topic(topic: str) -> str:
    return re.sub(r"\s+", " ", (topic or "").strip().lower())


def authors_line(authors: Sequence[str], limit: int = 6) -> str:
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + f" and {len(authors) - limit} more"


def code_link(p: Paper) -> str | None:
    links = p.links or extract_links(p.abstract, p.comments)
    for kind in ("github", "gitlab", "hf_model", "hf_space", "hf_dataset", "project"):
        for link in links:
            if link.kind == kind and http_url(link.url):
                return link.url
    return None


# --- interest rows (fallback scorers; the caller may use the search engine instead) --------

def lexical_rows(queries: Sequence[str], papers: Sequence[Paper], min_score: float = 0.08) -> np.ndarray:
    """TF-IDF cosine of each query against each paper (title twice + abstract), as a
    (len(queries), len(papers)) float32 array; values below `min_score` become 0 (no match)."""
    out = np.zeros((len(queries), len(papers)), dtype=np.float32)
    if not queries or not papers:
        return out
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [f"{p.title_display or p.title} {p.title_display or p.title} {p.abstract_display or p.abstract}" for p in papers]
    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2), min_df=1,
                          dtype=np.float32)
    d = vec.fit_transform(docs)
    q = vec.transform(list(queries))
    sims = (q @ d.T).toarray().astype(np.float32)
    # a phrase whose words all occur in a paper scores higher than TF-IDF weights alone say
    sims[sims < min_score] = 0.0
    return np.minimum(sims / 0.5, 1.0)  # ~0.5 cosine is a strong match for short queries


def vector_rows(seed_vectors: np.ndarray, paper_vectors: np.ndarray, min_sim: float = 0.45) -> np.ndarray:
    """Cosine similarity (vectors L2-normalised) of seeds to papers, rescaled so `min_sim` -> 0
    and 1.0 -> 1; below `min_sim` is no match."""
    if seed_vectors.size == 0 or paper_vectors.size == 0:
        return np.zeros((len(seed_vectors), len(paper_vectors)), dtype=np.float32)
    sims = (seed_vectors @ paper_vectors.T).astype(np.float32)
    rows = (sims - min_sim) / (1.0 - min_sim)
    rows[sims < min_sim] = 0.0
    return np.clip(rows, 0.0, 1.0)


# --- results ------------------------------------------------------------------------------

@dataclass
class DigestItem:
    paper_id: str
    score: float
    why: list[str]


@dataclass
class Digest:
    subscriber_id: int
    email: str
    period: str  # 'daily:2026-07-01'
    items: list[DigestItem]
    trending: list[str]  # paper ids of the "trending this week" section
    subject: str = ""
    for_you: list[str] = field(default_factory=list)  # paper ids of the "For you" section
    for_you_named: dict[str, list[str]] = field(default_factory=dict)  # profile name -> its section's paper ids
    text: str = ""
    html: str = ""
    headers: dict = field(default_factory=dict)


@dataclass
class Links:
    """A subscriber's own links (signed tokens): built by the caller."""

    preferences: str
    unsubscribe: str
    # one signed token per subscriber and digest (not one per link: signing is the costly part); the
    # item links carry the paper id and action in plain parameters, the token authorises them
    feedback: str | None = None


def period_label(period: str) -> str:
    kind, _, key = period.partition(":")
    return f"{'Weekly' if kind == 'weekly' else 'Daily'} digest, {key}"


@dataclass
class _Best:
    """Per paper, the best value over a subscriber's topics (or seeds) and the index of the one
    that gave it; both None when the subscriber has none that could be scored."""

    best: np.ndarray | None = None
    arg: np.ndarray | None = None


@dataclass
class _Interests:
    """One subscriber's interests matched against the period's papers."""

    any: bool  # has any interest at all (else: trending papers)
    wanted: frozenset[str]  # categories, lower case
    categories: np.ndarray  # bool per paper
    authors: list[tuple[str, np.ndarray]]  # (name as the subscriber wrote it, indexes of their papers)
    topics: list[str]
    topic: _Best
    seeds: list[str]
    seed: _Best


class DigestBuilder:
    """Scores and renders digests for one period. See the module docstring for the formula."""

    def __init__(self, papers: Sequence[Paper], *, period: str, site_name: str, base_url: str,
                 trend: dict[str, float] | None = None, trending_week: Sequence[Paper] = (),
                 topic_rows: dict[str, np.ndarray] | None = None, seed_rows: dict[str, np.ndarray] | None = None,
                 send_empty: bool = False, list_id: str | None = None):
        self.papers = list(papers)
        self.period = period
        self.site_name = site_name
        self.base_url = base_url.rstrip("/")
        self.send_empty = send_empty
        self.list_id = list_id
        n = len(self.papers)
        self.ids = [p.id for p in self.papers]
        self.index = {pid: i for i, pid in enumerate(self.ids)}
        # listing day per paper as an ordinal: "new since the subscriber's last digest" is one comparison
        self.listed = np.array([date.fromisoformat(p.listed).toordinal() if p.listed else 0 for p in self.papers],
                               dtype=np.int64)
        t = np.array([float((trend or {}).get(pid, 0.0)) for pid in self.ids], dtype=np.float32)
        top = float(t.max()) if n else 0.0
        self.trend = t / top if top > 0 else t
        self.trend_raw = t
        # category -> papers; "cs" matches every cs.* paper
        cats: dict[str, list[int]] = {}
        for i, p in enumerate(self.papers):
            keys = set(p.categories)
            keys.update(c.split(".", 1)[0] for c in p.categories)
            for c in keys:
                cats.setdefault(c.lower(), []).append(i)
        self.categories = {c: np.array(v, dtype=np.int64) for c, v in cats.items()}
        self.category_case = {c.lower(): c for p in self.papers for c in p.categories}
        auth: dict[str, list[int]] = {}
        self.author_case: dict[str, str] = {}
        for i, p in enumerate(self.papers):
            for a in p.authors:
                k = norm_name(a)
                auth.setdefault(k, []).append(i)
                self.author_case.setdefault(k, a)
        self.authors = {a: np.array(sorted(set(v)), dtype=np.int64) for a, v in auth.items()}
        self.topic_rows = {norm_topic(k): v for k, v in (topic_rows or {}).items()}
        self.seed_rows = dict(seed_rows or {})
        env = template_env()
        self._item_html = env.get_template("digest/item.html")
        self._item_text = env.get_template("digest/item.txt")
        self._page_html = env.get_template("digest/digest.html")
        self._page_text = env.get_template("digest/digest.txt")
        self._new_cache: dict = {}
        self._cat_cache: dict = {}
        self._blocks_html: dict[str, str] = {}
        self._blocks_text: dict[str, str] = {}
        self._fb_cache: dict[str, tuple[str, str]] = {}
        self.trending_week = list(trending_week)
        self._trend_blocks = [(p.id, self._trending_block_html(p), self._trending_block_text(p))
                              for p in self.trending_week]

    # -- per-paper blocks (rendered once) -------------------------------------------------
    def _paper_ctx(self, p: Paper) -> dict:
        # mail clients show no TeX: formulas and commands as Unicode text
        return {"p": p, "title": tex_to_text(p.title_display or p.title), "authors": authors_line(p.authors),
                "categories": p.categories, "snippet": clean_snippet(tex_to_text(p.abstract_display or p.abstract)),
                "code": code_link(p), "url": f"{self.base_url}/papers/{p.id}",
                "arxiv": f"https://arxiv.org/abs/{p.id}" if ":" not in p.id else None, "why": Markup(_WHY),
                "fb": Markup(_FB)}

    def _block(self, i: int) -> tuple[str, str]:
        pid = self.ids[i]
        h = self._blocks_html.get(pid)
        if h is None:
            ctx = self._paper_ctx(self.papers[i])
            h = self._blocks_html[pid] = self._item_html.render(ctx)
            self._blocks_text[pid] = self._item_text.render(ctx)
        return h, self._blocks_text[pid]

    def _trending_block_html(self, p: Paper) -> str:
        ctx = self._paper_ctx(p)
        ctx["trending"] = True
        return self._item_html.render(ctx).replace(_WHY, "").replace(_FB, "")

    def _trending_block_text(self, p: Paper) -> str:
        ctx = self._paper_ctx(p)
        ctx["trending"] = True
        return self._item_text.render(ctx).replace(_WHY, "").replace(_FB, "")

    def _feedback(self, pid: str, token: str | None, profile: str = "") -> tuple[str, str]:
        """The item's "more like this" / "not interested" links (HTML, text) for one token and profile slug."""
        if not token:
            return "", ""
        if profile:  # a named profile's section: its slug rides along (the token stays the subscriber's)
            h, t, n = *self._feedback(pid, token), quote(profile, safe="")
            return h.replace("&amp;a=", f"&amp;n={n}&amp;a="), t.replace("&a=", f"&n={n}&a=")
        pair = self._fb_cache.get(pid)
        if pair is None:
            base = f"{self.base_url}/foryou/d?p={quote(pid, safe='')}"
            h = (f' &middot; <a href="{base}&amp;a=up&amp;t={_TOK}" style="color:#1d4ed8;">More like this</a>'
                 f' &middot; <a href="{base}&amp;a=dismiss&amp;t={_TOK}" style="color:#1d4ed8;">Not interested</a>')
            t = f"  More like this: {base}&a=up&t={_TOK}\n  Not interested: {base}&a=dismiss&t={_TOK}\n"
            pair = self._fb_cache[pid] = (h, t)
        # the token is URL-safe base64 and dots: nothing to escape in either form
        return pair[0].replace(_TOK, token), pair[1].replace(_TOK, token)

    def _row(self, pid: str, why: list[str], token: str | None, profile: str = "") -> dict:
        h, t = self._block(self.index[pid])
        fh, ft = self._feedback(pid, token, profile)
        why_text = " · ".join(why)
        return {"html": Markup(h.replace(_WHY, str(escape(why_text))).replace(_FB, fh)),
                "text": t.replace(_WHY, why_text).replace(_FB, ft), "why": why}

    # -- scoring ----------------------------------------------------------------------------
    def _new_mask(self, last_until: str | None) -> np.ndarray:
        """Which papers are new to a subscriber whose last digest ended on `last_until`; most
        subscribers share that day, so each mask is computed once."""
        new = self._new_cache.get(last_until)
        if new is None:
            new = (self.listed > date.fromisoformat(last_until).toordinal() if last_until
                   else np.ones(len(self.ids), dtype=bool))
            self._new_cache[last_until] = new
        return new

    def _category_mask(self, wanted: frozenset[str]) -> np.ndarray:
        """Which papers are in any of the `wanted` categories (lower case); subscribers share
        category sets, so the common ones are kept."""
        hit = self._cat_cache.get(wanted)
        if hit is None:
            hit = np.zeros(len(self.ids), dtype=bool)
            for c in wanted:
                idx = self.categories.get(c)
                if idx is not None:
                    hit[idx] = True
            if len(self._cat_cache) < 50_000:
                self._cat_cache[wanted] = hit
        return hit

    def _best_row(self, rows: list[np.ndarray]) -> _Best:
        """Per paper, the best of several interest rows and which row it came from."""
        if not rows:
            return _Best()
        stacked = np.stack(rows)
        arg = stacked.argmax(axis=0)
        return _Best(stacked[arg, np.arange(len(self.ids))], arg)

    def _interests(self, sub) -> _Interests:
        topics = [t for t in sub.topics if norm_topic(t) in self.topic_rows]
        seeds = [x for x in sub.seeds if x in self.seed_rows]
        wanted = frozenset(c.lower() for c in sub.categories)
        authors = [(a, self.authors[norm_name(a)]) for a in sub.authors if norm_name(a) in self.authors]
        return _Interests(
            any=bool(sub.categories or sub.authors or sub.topics or sub.seeds), wanted=wanted,
            categories=self._category_mask(wanted), authors=authors,
            topics=topics, topic=self._best_row([self.topic_rows[norm_topic(t)] for t in topics]),
            seeds=seeds, seed=self._best_row([self.seed_rows[x] for x in seeds]))

    def _interest_score(self, m: _Interests) -> tuple[np.ndarray, np.ndarray]:
        """Each paper's score for these interests (the module docstring's formula) and whether
        it matches any of them."""
        n = len(self.ids)
        score = np.zeros(n, dtype=np.float32)
        match = np.zeros(n, dtype=bool)
        score += W_CATEGORY * m.categories
        match |= m.categories
        for _, idx in m.authors:
            score[idx] += W_AUTHOR
            match[idx] = True
        for weight, best in ((W_TOPIC, m.topic.best), (W_SEED, m.seed.best)):
            if best is not None:
                score += weight * best
                match |= best > 0
        score += W_TREND * self.trend
        return score, match

    def _why(self, i: int, m: _Interests) -> list[str]:
        """Why paper `i` was chosen, most specific first: author, topic, seed, category, trending."""
        why = [f"by {self.author_case.get(norm_name(a), a)}" for a, idx in m.authors if i in set(idx.tolist())]
        if m.topic.best is not None and m.topic.best[i] > 0:
            why.append(f"matches your topic '{m.topics[int(m.topic.arg[i])]}'")
        if m.seed.best is not None and m.seed.best[i] > 0:
            why.append(f"similar to {m.seeds[int(m.seed.arg[i])]}")
        if m.categories[i]:
            p_cats = self.papers[i].categories
            shown = [c for c in p_cats if c.lower() in m.wanted or c.split(".", 1)[0].lower() in m.wanted]
            why.append(", ".join(shown[:2]) or p_cats[0])
        if self.trend[i] > 0.25:
            why.append("trending")
        return why or ["new"]

    def score(self, sub) -> list[DigestItem]:
        """The subscriber's items for this period, best first (at most sub.size). A subscriber
        without interests gets the period's trending papers, newest first among equals."""
        n = len(self.ids)
        size = max(1, int(sub.size or 10))
        if n == 0:
            return []
        new = self._new_mask(sub.last_until)
        m = self._interests(sub)
        if m.any:
            score, match = self._interest_score(m)
            cand = np.flatnonzero(match & new)
        else:
            score = np.zeros(n, dtype=np.float32)
            score += self.trend + 1e-3 * (self.listed - self.listed.min())
            cand = np.flatnonzero(new)
        if cand.size == 0:
            return []
        if cand.size > size:
            cand = cand[np.argpartition(-score[cand], size - 1)[:size]]
        order = sorted(cand.tolist(), key=lambda i: (-float(score[i]), self.ids[i]))
        return [DigestItem(self.ids[i], float(score[i]), self._why(i, m)) for i in order]

    # -- rendering ------------------------------------------------------------------------------
    def build(self, sub, links: Links, message_id: str | None = None,
              for_you: Sequence[tuple[str, str]] = (),
              for_you_named: Sequence[tuple[str, str, Sequence[tuple[str, str]]]] = ()) -> Digest | None:
        """Score and render one subscriber's digest; None when there is nothing to send.

        `for_you`: the subscriber's recommendations as (paper id, reason), best first, computed
        by the caller from the reader's profile; only papers of this period that are new to the
        subscriber and not already in the main list are shown (at most FOR_YOU_SHOWN); likewise
        `for_you_named`: (profile name, slug, recommendations), a section per named profile."""
        items = self.score(sub)
        chosen = {it.paper_id for it in items}
        new = self._new_cache.get(sub.last_until)

        def pick(recs):  # this period's papers new to the reader, not shown above, at most FOR_YOU_SHOWN
            out = [(p, why) for p, why in recs if p in self.index and p not in chosen and (new is None or new[self.index[p]])]
            chosen.update(p for p, _ in out[:FOR_YOU_SHOWN])
            return out[:FOR_YOU_SHOWN]
        fy, named = pick(for_you), [(name, slug, sec) for name, slug, recs in for_you_named if (sec := pick(recs))]
        if not items and not fy and not named and not self.send_empty:
            return None
        trending = [(pid, h, t) for pid, h, t in self._trend_blocks if pid not in chosen][:TRENDING_SHOWN]
        rows = [self._row(it.paper_id, it.why, links.feedback) for it in items]
        fy_rows = [self._row(pid, [reason or "recommended from your feedback"], links.feedback) for pid, reason in fy]
        label = period_label(self.period)
        n = len(items)
        if n:
            first = self.papers[self.index[items[0].paper_id]]
            top_title = tex_to_text(first.title_display or first.title)
            if len(top_title) > 70:
                top_title = top_title[:67].rstrip() + "..."
            subject = f"{self.site_name}: {n} new paper{'s' if n != 1 else ''} for you \u2014 {top_title}"
        else:
            subject = f"{self.site_name}: no new papers matched your interests"
        ctx = {"site_name": self.site_name, "base_url": self.base_url, "label": label, "items": rows,
               "for_you": fy_rows,
               "for_you_named": [{"name": name, "items": [self._row(pid, [why], links.feedback, slug) for pid, why in sec]}
                                 for name, slug, sec in named],
               "trending": [{"html": Markup(h), "text": t} for _, h, t in trending], "links": links,
               "email": sub.email, "frequency": sub.frequency, "interests": _interests_line(sub)}
        html = self._page_html.render(ctx)
        text = self._page_text.render(ctx)
        headers = {
            "List-Unsubscribe": f"<{links.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if self.list_id:
            headers["List-Id"] = self.list_id
        return Digest(sub.id, sub.email, self.period, items, [pid for pid, _, _ in trending],
                      subject=subject, text=text, html=html, headers=headers, for_you=[pid for pid, _ in fy],
                      for_you_named={name: [pid for pid, _ in sec] for name, _, sec in named})


def _interests_line(sub) -> str:
    parts = []
    if sub.categories:
        parts.append("categories " + ", ".join(sub.categories))
    if sub.authors:
        parts.append("authors " + ", ".join(sub.authors))
    if sub.topics:
        parts.append("topics " + ", ".join(f"'{t}'" for t in sub.topics))
    if sub.seeds:
        parts.append("papers like " + ", ".join(sub.seeds))
    return "; ".join(parts) or "none yet (you get what is trending)"


def distinct(values: Iterable[Iterable[str]], key: Callable[[str], str] = lambda s: s) -> list[str]:
    """The distinct values over many subscribers' lists, first spelling kept."""
    seen: dict[str, str] = {}
    for vs in values:
        for v in vs:
            seen.setdefault(key(v), v)
    return list(seen.values())
