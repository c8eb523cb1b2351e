"""The one word-handling contract of lexical search: how text becomes terms.

Index and query must cut, fold and stem words the same way, or a query word silently misses
the term the index holds. Four places depend on these rules; each takes them from here:

* the FTS5 index, created by migration 0020 with ``tokenize='porter unicode61
  remove_diacritics 2'`` (SQL cannot import Python: ``FTS5_TOKENIZER`` records what it
  says, and a change to either must change both);
* the tantivy index of large stores (``paperwire.search.tantivy``), whose ``en_stem``
  tokenizer stems with Snowball English (``english_stem``);
* the query builder (``paperwire.search.query``): stopwords and field weights;
* the highlighter (``paperwire.search.highlight``): words found, folded and stemmed as
  FTS5 does, so a mark falls on the word that matched.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from paperwire.text import strip_accents

# What migration 0020 gives papers_fts; kept here so the contract names it.
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"

# The indexed columns, in FTS5 column order, and their BM25 weights. Title highest; measured
# on CACM with bench/quality.py (docs/search.md): a 4x title cost nDCG@10 against 1.5x,
# and equal weights were no better than 1.5x.
FIELDS = ("title", "abstract", "authors")
FIELD_WEIGHTS = (1.5, 1.0, 1.0)

# The tokenizer of each field in the tantivy index (authors are not stemmed there).
TANTIVY_TOKENIZERS = {"title": "en_stem", "abstract": "en_stem", "authors": "default"}

# English stopwords removed from free-text terms (FTS5 has no stopword list; removing them
# from the query is what matters for BM25). Phrases keep every word.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves us also
may might must shall via using use used based towards toward upon within without whether yet
""".split())

# Words that phrase a request rather than name its subject ("I'd like papers describing ...",
# "find all discussions of ..."): dropped from free-text terms like stopwords, so a question
# written in full sentences is matched on its subject. The meaning side still reads them.
# ("d", "m", "s", "ll", "ve", "t" are what is left of "I'd", "I'm", "it's", "we'll", "don't".)
REQUEST_WORDS = frozenset("""
articles article papers paper publications publication literature interested find finding like want
wanted looking look discussions discussion descriptions describing describe describes deal deals dealing
exist exists existing please particularly especially anything something know tell regarding concerning
including d m s ll ve t
""".split())

# A word of the index: a run of letters and digits, as unicode61 cuts them ("_" and
# punctuation separate words).
INDEX_WORD = re.compile(r"[^\W_]+")
# A word of a query. Wider than INDEX_WORD ("_" included): a query word is sent to FTS5
# inside double quotes, where unicode61 cuts it again, so "a_b" searches the phrase "a b".
QUERY_WORD = re.compile(r"\w+", re.UNICODE)

_porter = Stemmer.Stemmer("porter", 0)  # no internal cache: porter_stem caches, under the GIL
_english = Stemmer.Stemmer("english", 0)


def fold(word: str) -> str:
    """Case and accents folded, as the FTS5 tokenizer folds them."""
    return strip_accents(word.lower())


@lru_cache(maxsize=200_000)
def porter_stem(word: str) -> str:
    """The term FTS5 indexes for ``word`` (folded, then Porter-stemmed)."""
    # Abstracts repeat words a lot: the cache makes repeats free. stemWord is one C call that
    # holds the GIL, so threads can share the stemmer (its own cache, not thread-safe, is off).
    return _porter.stemWord(fold(word))


def english_stem(word: str) -> str:
    """The term tantivy's en_stem tokenizer indexes for a lowercase word (Snowball English)."""
    return _english.stemWord(word)


def field_boosts() -> dict[str, float]:
    """The tantivy field boosts equal to FIELD_WEIGHTS (fields of weight 1 need none)."""
    return {name: w for name, w in zip(FIELDS, FIELD_WEIGHTS) if w != 1.0}
