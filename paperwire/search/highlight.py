"""Marks and snippets for search hits, computed from the display text of the hits alone,
and their HTML.

Why not FTS5's highlight()/snippet(): they run the MATCH again over the whole index to find
the ten hits of a page, while marking ten titles and abstracts here costs next to nothing.
Matching follows the word contract of the lexical index (``paperwire.search.analysis``):
words are runs of letters and digits, compared case- and accent-folded and Porter-stemmed,
so "networks" marks "network" the way it matched it. Marks are sentinel characters; the
HTML helpers escape the text and turn them into tags.
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Sequence

from paperwire.search.analysis import INDEX_WORD, fold, porter_stem
from paperwire.search.query import MAX_TERMS, content_clauses
from paperwire.text import tex_to_text

OPEN, CLOSE = "\ue000", "\ue001"  # private-use sentinels: escaped text cannot contain them
_FLAT_MARKS = re.compile("[^\ue000\ue001]*(?:\ue000[^\ue000\ue001]*\ue001[^\ue000\ue001]*)*", re.S)


class Highlighter:
    """Built once per query from its clauses: ``(kind, words)`` with kind term | prefix | phrase."""

    def __init__(self, clauses: Iterable[tuple[str, Sequence[str]]]):
        self.terms: set[str] = set()
        self.prefixes: list[str] = []
        self.phrases: list[tuple[str, ...]] = []
        for kind, words in clauses:
            words = [w for w in (fold(x) for x in words) if INDEX_WORD.fullmatch(w)]
            if not words:
                continue
            if kind == "prefix":
                self.prefixes.append(words[0])
            elif len(words) == 1:
                self.terms.add(porter_stem(words[0]))
            else:
                self.phrases.append(tuple(porter_stem(w) for w in words))
        self.prefixes = tuple(self.prefixes)
        # Porter rewrites only a word's ending: a stem of two or more letters begins with the
        # word's first two letters. So only tokens beginning with a query stem's first two
        # letters can match, and a regex finds those in C; the rest is never stemmed. Stems
        # shorter than that ("as" -> "a", "s" -> "") and non-ASCII text (accents fold before
        # stemming) take the slow path over every token. tests/test_highlight.py checks both agree.
        heads = [x[:2] for x in (*self.terms, *(w for ph in self.phrases for w in ph), *self.prefixes)]
        self._cand = None
        if heads and all(len(h) == 2 and h.isascii() for h in heads):
            alts = "|".join(sorted({re.escape(h) for h in heads}))
            self._cand = re.compile(rf"(?<![^\W_])(?:{alts})[^\W_]*", re.IGNORECASE)

    def __bool__(self) -> bool:
        return bool(self.terms or self.prefixes or self.phrases)

    def _what(self, word: str, stem: str):
        if stem in self.terms:
            return stem
        if self.prefixes:
            w = fold(word)
            for p in self.prefixes:
                if w.startswith(p):
                    return p
        return None

    def spans(self, text: str) -> list[tuple[int, int, object]]:
        """(start, end, what it matched) of every matching word of ``text``, in order."""
        if not self:
            return []
        fast = self._cand is not None and text.isascii()
        toks = list((self._cand if fast else INDEX_WORD).finditer(text))
        words = [t.group() for t in toks]
        stems = [porter_stem(w) for w in words]
        terms = self.terms
        hit: dict[int, object] = {}
        if self.prefixes:
            for i, (w, st) in enumerate(zip(words, stems)):
                m = self._what(w, st)
                if m is not None:
                    hit[i] = m
        else:  # the usual case: a set lookup per word
            for i, st in enumerate(stems):
                if st in terms:
                    hit[i] = st
        for ph in self.phrases:
            n = len(ph)
            for i in range(len(stems) - n + 1):
                if stems[i] == ph[0] and tuple(stems[i:i + n]) == ph and (
                        not fast or all(INDEX_WORD.search(text, toks[j].end(), toks[j + 1].start()) is None
                                        for j in range(i, i + n - 1))):
                    for j in range(i, i + n):
                        hit[j] = ph
        return [(toks[i].start(), toks[i].end(), hit[i]) for i in sorted(hit)]

    def mark(self, text: str, open_: str, close: str) -> str | None:
        """The whole text with every match marked, or None when nothing matches."""
        sp = self.spans(text or "")
        return _join(text, sp, 0, len(text), open_, close) if sp else None

    def snippet(self, text: str, open_: str, close: str, chars: int = 220) -> str | None:
        """About ``chars`` characters of ``text`` holding the most distinct matches (as FTS5's
        snippet() chooses), cut at word boundaries, with ellipses where it was cut; None when
        nothing matches."""
        text = text or ""
        sp = self.spans(text)
        if not sp:
            return None
        best, best_key = 0, None
        for k, (start, _, _) in enumerate(sp):
            lo = max(0, start - 25)
            inside = [w for s0, e0, w in sp[k:] if e0 <= lo + chars]
            key = (len(set(inside)), len(inside), -lo)
            if best_key is None or key > best_key:
                best, best_key = lo, key
        lo = 0 if best <= 40 else _word_start(text, best)
        hi = _word_end(text, min(len(text), lo + chars))
        if len(text) - hi < 30:  # a few words left: show them
            hi = len(text)
        body = _join(text, [x for x in sp if lo <= x[0] and x[1] <= hi], lo, hi, open_, close)
        return ("\u2026" if lo > 0 else "") + body.strip() + ("\u2026" if hi < len(text) else "")


def _word_start(text: str, i: int) -> int:
    """The start of the word at or after ``i`` (the cut never splits a word)."""
    m = INDEX_WORD.search(text, i)
    if m is None:
        return i
    if m.start() == i and i > 0 and INDEX_WORD.match(text, i - 1):  # inside a word: go to the next
        m = INDEX_WORD.search(text, m.end())
    return m.start() if m else i


def _word_end(text: str, i: int) -> int:
    """``i`` moved back to the end of the last whole word before it."""
    if i >= len(text):
        return len(text)
    j = text.rfind(" ", 0, i + 1)
    return j if j > 0 else i


def _join(text: str, spans, lo: int, hi: int, open_: str, close: str) -> str:
    """text[lo:hi] with each span wrapped in the marks."""
    out, pos = [], lo
    for start, end, _ in spans:
        out.append(text[pos:start])
        out.append(open_ + text[start:end] + close)
        pos = end
    out.append(text[pos:hi])
    return "".join(out)


def highlighter(text: str) -> Highlighter:
    """What to mark in hits: the query's clauses, stopwords dropped as in the MATCH."""
    return Highlighter((c.kind, c.words) for c in content_clauses(text)[:MAX_TERMS])


# -- HTML ------------------------------------------------------------------------------------

def title_html(hl: Highlighter | None, title: str) -> str:
    """The escaped title, its matching words in <mark>."""
    marked = hl.mark(title, OPEN, CLOSE) if hl else None
    return _marks_to_html(marked) if marked else html.escape(title)


def snippet_html(hl: Highlighter | None, abstract: str) -> str:
    """The escaped part of the abstract with the most matches, marked; its start without matches.
    TeX is read first (7.7$\\times$ -> 7.7×): a snippet cut out of a formula could not be."""
    abstract = tex_to_text(abstract)
    snip = hl.snippet(abstract, OPEN, CLOSE) if hl else None
    return _marks_to_html(snip) if snip else _plain_snippet(abstract)


def _marks_to_html(raw: str) -> str:
    """Escape text that carries sentinel marks, then turn the marks into <mark> tags."""
    s = html.escape(raw.replace("<mark>", "").replace("</mark>", ""), quote=True)
    if _FLAT_MARKS.fullmatch(s):  # the usual case: flat, balanced
        return s.replace(OPEN, "<mark>").replace(CLOSE, "</mark>")
    # Close any mark left open at a snippet boundary so the HTML stays balanced.
    out, depth = [], 0
    for ch in s:
        if ch == OPEN:
            if depth == 0:
                out.append("<mark>")
            depth += 1
        elif ch == CLOSE:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(ch)
    if depth:
        out.append("</mark>")
    return "".join(out)


def _plain_snippet(abstract: str, n: int = 240) -> str:
    a = abstract or ""
    if len(a) > n:
        a = a[:n].rsplit(" ", 1)[0] + "\u2026"
    return html.escape(a, quote=True)
