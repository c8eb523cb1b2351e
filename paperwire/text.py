"""Text normalisation, arXiv identifiers and code-link extraction (pure functions)."""

from __future__ import annotations

import html
import re
import unicodedata

from paperwire.models import Link

# --- arXiv identifiers -----------------------------------------------------------------

NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
OLD_ID = re.compile(r"^([a-z\-]+(?:\.[A-Za-z\-]+)?/\d{7})(?:v(\d+))?$")
_ID_PREFIXES = ("arxiv:", "https://arxiv.org/abs/", "http://arxiv.org/abs/", "https://arxiv.org/pdf/",
                "http://arxiv.org/pdf/", "oai:arxiv.org:")


def split_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """'2501.01234v2' -> ('2501.01234', 2); 'hep-th/9901001' -> ('hep-th/9901001', None); junk -> None."""
    s = (raw or "").strip()
    if not s[:1].isdigit():  # every prefix starts with a letter; most ids are bare "2501.01234"
        low = s.lower()
        for p in _ID_PREFIXES:
            if low.startswith(p):
                s = s[len(p):]
                break
    if s.endswith(".pdf"):
        s = s[:-4]
    m = NEW_ID.match(s) or OLD_ID.match(s)
    if not m:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def canonical_id(raw: str) -> str | None:
    parts = split_arxiv_id(raw)
    return parts[0] if parts else None


# --- display text ----------------------------------------------------------------------

_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328", "r": "\u030a"}
# \'a  \'{a}  {\'a}  \"{o}  \c{c}  \v s ; the letter may be \i (dotless i)
_ACCENT_RE = re.compile(r"\{?\\([`'^\"~=.]|[uvHckr](?=[\s{]))\s*(?:\{\s*(\\i|\\j|[A-Za-z])\s*\}|(\\i|\\j|[A-Za-z]))\}?")
_SYMBOLS = {r"\ss": "ß", r"\o": "ø", r"\O": "Ø", r"\ae": "æ", r"\AE": "Æ", r"\aa": "å", r"\AA": "Å",
            r"\l": "ł", r"\L": "Ł", r"\oe": "œ", r"\OE": "Œ", r"\i": "ı"}
# "{\\o}" or "\\o" ; a bare control word swallows the space after it, as TeX does ("Stra\\ss e" = "Straße")
_SYMBOL_RE = re.compile(r"\{(\\(?:ss|o|O|ae|AE|aa|AA|l|L|oe|OE|i))\}|(\\(?:ss|o|O|ae|AE|aa|AA|l|L|oe|OE|i))(?![A-Za-z])(?:\{\}| (?=[A-Za-z]))?")
MATH_RE = _MATH_RE = re.compile(r"(\$\$.+?\$\$|\$.+?\$)", re.S)  # MATH_RE: also used by the page renderer


def _accent(m: re.Match) -> str:
    mark, letter = m.group(1), m.group(2) or m.group(3)
    base = {"\\i": "i", "\\j": "j"}.get(letter, letter)
    return unicodedata.normalize("NFC", base + _ACCENTS[mark])


# Where _ACCENT_RE or _SYMBOL_RE could match: a backslash and what they need after it. Both
# regexes scan slowly (their first character is optional or an alternation); this one starts
# with a literal backslash, so the common TeX in abstracts (\cite, \emph, \%) is ruled out fast.
_TEX_HINT = re.compile(r"\\(?:[`'^\"~=.]|[uvHckr][\s{]|(?:ss|o|O|ae|AE|aa|AA|l|L|oe|OE|i)(?![A-Za-z]))")


def _fix_tex_text(chunk: str) -> str:
    if "\\" in chunk:  # the regexes only ever match after a backslash
        if _TEX_HINT.search(chunk):
            chunk = _ACCENT_RE.sub(_accent, chunk)
            chunk = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(1) or m.group(2)], chunk)
        chunk = chunk.replace("\\&", "&").replace("\\%", "%")
    if "``" in chunk or "''" in chunk:
        chunk = chunk.replace("``", "\u201c").replace("''", "\u201d")
    if "--" in chunk:
        chunk = chunk.replace("---", "\u2014").replace("--", "\u2013")
    return chunk


def _is_folded(s: str) -> bool:
    """True when ``" ".join(s.split()) == s``. Every character str.split() splits on except
    the ASCII space is non-printable (Unicode categories Cc, Zs, Zl, Zp), so printable text
    with no double or outer space is already folded."""
    return s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " "


def _fold_space(s: str) -> str:
    """``" ".join(s.split())``: whitespace runs to one space, none at the ends, cheaper on
    most text (ASCII text whose only other whitespace is line breaks needs just those replaced)."""
    if s.isascii():
        # ASCII: the characters str.split() splits on, each looked for with memchr (far
        # cheaper a character than str.isprintable())
        t = s.replace("\n", " ") if "\n" in s else s
        if ("\t" not in t and "\r" not in t and "\x0b" not in t and "\x0c" not in t and "\x1c" not in t
                and "\x1d" not in t and "\x1e" not in t and "\x1f" not in t
                and "  " not in t and t[:1] != " " and t[-1:] != " "):
            return t
    elif _is_folded(s):
        return s
    return " ".join(s.split())


def _plain(s: str) -> bool:
    """Nothing for display_text to decode: no entity, TeX, quotes or dashes to rewrite. (A
    two-character search costs far more than a one-character one, so each pair only where its
    character is.)"""
    return ("&" not in s and "\\" not in s and "`" not in s and ("'" not in s or "''" not in s)
            and ("-" not in s or "--" not in s))


def display_text(raw: str | None) -> str:
    """Fold hard line breaks, decode HTML entities, turn TeX accents into Unicode.

    Math between dollars is left exactly as written (a renderer or the reader handles it).
    """
    if not raw:
        return ""
    # Fast path (most titles, author names and many abstracts): nothing to decode, only
    # whitespace to fold. str.split() folds the same whitespace as \s+ and is much cheaper.
    if _plain(raw):
        return _fold_space(raw)
    s = html.unescape(raw) if "&" in raw else raw
    s = _fold_space(s)
    parts = _MATH_RE.split(s)
    return "".join(p if i % 2 else _fix_tex_text(p) for i, p in enumerate(parts))


def display_texts(items: list[str]) -> list[str]:
    """``[display_text(x) for x in items]`` for lists of short strings (author names): when the
    list joined by "|" (which needs no work and breaks any pair such as "--" between items) needs
    nothing, no item does and the list comes back as it is, one check instead of one per name."""
    j = "|".join(items)
    if "" not in items and _plain(j) and _is_folded(j) and " |" not in j and "| " not in j:
        return list(items)
    return [display_text(x) for x in items]


def strip_accents(s: str) -> str:
    """Diacritics removed ("Schrödinger" -> "Schrodinger"), as FTS5's remove_diacritics does."""
    if s.isascii():
        return s
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def split_authors(raw: str) -> list[str]:
    """Split an arXiv author string ("A, B and C") into names, keeping affiliations out."""
    s = re.sub(r"\s+", " ", raw or "").strip()
    # drop parenthesised affiliations, which may contain commas
    depth, out = 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    s = "".join(out)
    names = re.split(r",\s*(?:and\s+)?|\s+and\s+|;\s*", s)
    return display_texts([n.strip() for n in names if n.strip()])


# --- code links ------------------------------------------------------------------------

_URL_RE = re.compile(r"(?:https?://|(?<![\w./@])(?=(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co)/))[^\s<>\"'{}|\\^`\]]+", re.I)
_GH_RESERVED = {"features", "about", "pricing", "topics", "collections", "orgs", "sponsors", "marketplace",
                "settings", "login", "join", "explore", "search", "apps", "site", "blog"}


# compiled once: re.match(pattern, ...) looks its pattern up in re's cache on every call
_SCHEME = re.compile(r"https?://", re.I)
_SCHEME_WWW = re.compile(r"^https?://(www\.)?", re.I)
_HOST_PATH = re.compile(r"https?://(?:www\.)?([^/?#:]+)(?::\d+)?(/[^?#]*)?", re.I)
_GIT_SUFFIX = re.compile(r"\.git$", re.I)
_REPO_NAME = re.compile(r"^[\w.\-]+$")
_GH_OWNER_END = re.compile(r"github\.com/(?:[\w.\-]+/)?$", re.I)


def _strip_url(url: str) -> str:
    url = url.split("#", 1)[0]
    # trailing punctuation from the sentence, and unbalanced closing brackets
    while url and url[-1] in ".,;:!?)]}'\"*":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def classify_link(url: str) -> Link | None:
    """Normalise a URL and say what kind of code/project link it is (None if not one)."""
    url = _strip_url(url.strip())
    if not url:
        return None
    if not _SCHEME.match(url):
        url = "https://" + url
    m = _HOST_PATH.match(url)
    if not m:
        return None
    host = m.group(1).lower()
    path_parts = [p for p in (m.group(2) or "").split("/") if p]
    if host == "github.com":
        if len(path_parts) < 2 or path_parts[0].lower() in _GH_RESERVED:
            return None
        owner, repo = path_parts[0], _GIT_SUFFIX.sub("", path_parts[1])
        repo = _strip_url(repo)
        if not repo or not _REPO_NAME.match(owner + repo):
            return None
        return Link(f"https://github.com/{owner}/{repo}", "github")
    if host == "gitlab.com":
        if len(path_parts) < 2:
            return None
        parts = path_parts[: path_parts.index("-")] if "-" in path_parts else path_parts
        parts[-1] = _GIT_SUFFIX.sub("", parts[-1])
        if len(parts) < 2:
            return None
        return Link("https://gitlab.com/" + "/".join(parts), "gitlab")
    if host in ("huggingface.co", "hf.co"):
        if not path_parts:
            return None
        if path_parts[0] in ("datasets", "spaces") and len(path_parts) >= 3:
            kind = "hf_dataset" if path_parts[0] == "datasets" else "hf_space"
            return Link(f"https://huggingface.co/{path_parts[0]}/{path_parts[1]}/{path_parts[2]}", kind)
        if path_parts[0] in ("papers", "docs", "blog", "datasets", "spaces", "models", "collections", "learn"):
            return None
        if len(path_parts) >= 2:
            return Link(f"https://huggingface.co/{path_parts[0]}/{path_parts[1]}", "hf_model")
        return None
    if host.endswith("github.io"):
        path = "/".join(path_parts)
        # one form per page: directories end with '/', files ("index.html") do not
        tail = "" if path_parts and "." in path_parts[-1] and not path_parts[-1].endswith(".github.io") else "/"
        return Link(f"https://{host}/{path}".rstrip("/") + tail if path else f"https://{host}/", "project")
    return None


_PROJECT_HINT = re.compile(r"(project|page|website|homepage|demo|available|code|web|release)", re.I)
# Words before a URL saying it is not this paper's own page ("Presented at the 17th Workshop on
# ... (OptLearnMAS, https://optlearnmas.github.io)"), unless a positive hint follows them.
_NOT_OURS_HINT = re.compile(r"(workshop|conference|symposium|co-located|competition|licen[cs]e)", re.I)
# Hosts that are never a repository or a project page of the paper itself.
_NOT_PROJECT_HOSTS = ("arxiv.org", "doi.org", "youtube.com", "youtu.be", "vimeo.com", "bilibili.com", "twitter.com",
                      "x.com", "linkedin.com", "creativecommons.org", "github.com", "gitlab.com", "huggingface.co",
                      "hf.co", "orcid.org", "openreview.net", "aclanthology.org")
_STOPWORDS = {"and", "or", "for", "the", "with", "to", "in", "is", "we", "which", "code", "are", "at", "as", "on",
              "of", "a", "an", "this", "our", "it", "will", "be", "soon", "upon", "after"}
_URL_HIT = re.compile(r"https?://|github\.com/|gitlab\.com/|huggingface\.co/", re.I)
_WS = re.compile(r"\s")
_WS_RUN = re.compile(r"\s+")
_TEX_DOT = re.compile(r"(?<=\w)\$\.\$?(?=\w)")


def _url_hits(text: str) -> list[int]:
    """Offsets where a URL may start. str.find on the lower-cased text is much faster than a
    case-insensitive regex alternation scanning every position."""
    low = text.lower()
    if len(low) != len(text):  # lower() changed lengths (rare Unicode): offsets would not match
        return [m.start() for m in _URL_HIT.finditer(text)]
    hits = []
    for needle in ("http", "github.com/", "gitlab.com/", "huggingface.co/"):
        i = low.find(needle)
        while i >= 0:
            hits.append(i)
            i = low.find(needle, i + 1)
    return sorted(hits)


def _url_tokens(text: str) -> list[tuple[int, str]]:
    """(offset, token) of the whitespace-separated tokens that hold a URL, with typesetting damage
    repaired (each case seen in real arXiv metadata):
    - a line break inside a URL, after '/', '-' or '_' ("https://github.com/foo/" + newline + "bar");
      a '.' at a line end is the end of the sentence, not a break;
    - a space left where a hyphenated URL was re-flowed ("https://github.com/BreuerLabs/E- LDA",
      "github.com/luca-hagen/ Wasserstein-BDG-medical-VQA");
    - TeX dollars around a dot ("https://github$.$com/x/y").
    Only the places where a URL starts are looked at, not every word (this runs on every abstract).
    """
    out = []
    done = 0
    n = len(text)
    for hit in _url_hits(text):
        if hit < done:
            continue  # part of the token already taken
        start = hit
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        ws = _WS.search(text, hit)
        end = ws.start() if ws else n
        tok = text[start:end]
        while end < n and tok[-1:] in "/-_":
            sep = _WS_RUN.match(text, end).group(0)
            ws = _WS.search(text, end + len(sep))
            nxt = text[end + len(sep): ws.start() if ws else n]
            word = nxt.rstrip(".,;:)")
            if not word or not (word[0].isalnum() or word[0] == "_"):
                break
            owner_only = _GH_OWNER_END.search(tok)
            if word.lower() in _STOPWORDS or "://" in nxt or word.endswith(":"):
                break
            if "\n" not in sep:
                if sep != " " or not (tok.endswith("-") or owner_only):
                    break
            elif tok.endswith("/") and not owner_only and word[0].isupper():
                break  # "https://x.github.io/" + newline + "Code ..." is a new sentence
            tok += nxt
            end += len(sep) + len(nxt)
        if "$." in tok:
            tok = _TEX_DOT.sub(".", tok)
        if "\\" in tok:  # TeX escapes inside \url{...}: "BIM\_for\_MTL" is "BIM_for_MTL"
            tok = tok.replace("\\_", "_").replace("\\%", "%").replace("\\#", "#").replace("\\&", "&").replace("\\~", "~")
        out.append((start, tok))
        done = end
    return out


def _hinted(before: str) -> tuple[bool, bool]:
    """(a positive hint is near, a negative hint comes after the last positive one)."""
    pos = [m.end() for m in _PROJECT_HINT.finditer(before[-60:])]
    last_pos = (len(before) - min(60, len(before)) + pos[-1]) if pos else -1
    neg = [m.end() for m in _NOT_OURS_HINT.finditer(before)]
    return bool(pos), bool(neg) and neg[-1] > last_pos


def extract_links(*texts: str | None) -> list[Link]:
    """Repository and project-page links found in abstracts and comments, normalised and deduplicated.

    A generic URL counts as a project page only when the words just before it say so
    ("Project page: https://..."), so DOIs and dataset hosts are not mistaken for code; a
    GitHub user page or a video is never a project page; a site introduced as a workshop's
    or conference's is not the paper's.
    """
    seen: dict[str, Link] = {}
    seen_lower: set[str] = set()
    for text in texts:
        if not text:
            continue
        # Fast path: most abstracts have no URL at all. Every URL this finds has a '/' (after
        # "://" or the host), and a one-character search is much cheaper than the lower-cased
        # searches of _url_hits (which find no place to start in a text without a URL either).
        if "/" not in text:
            continue
        for offset, tok in _url_tokens(text):
            for m in _URL_RE.finditer(tok):
                raw = m.group(0)
                before = text[max(0, offset + m.start() - 100): offset + m.start()]
                link = classify_link(raw)
                if link is not None and link.kind == "project" and _hinted(before)[1]:
                    link = None
                if link is None and raw[:4].lower() == "http":
                    cleaned = _strip_url(raw)
                    host = _SCHEME_WWW.sub("", cleaned).split("/")[0].split(":")[0].lower()
                    positive, negative = _hinted(before)
                    if (host and "." in host and positive and not negative
                            and not any(host == h or host.endswith("." + h) for h in _NOT_PROJECT_HOSTS)):
                        link = Link(cleaned, "project")
                if link and link.url.lower() not in seen_lower:
                    seen[link.url] = link
                    seen_lower.add(link.url.lower())
    return list(seen.values())


# --- TeX as readable text ----------------------------------------------------------------

# what pylatexenc would misread in prose: % starts a comment (it would drop the rest of the
# abstract), & is an alignment tab, a lone $ opens math; references have no text worth showing
_PROSE_SPECIALS = re.compile(r"(?<!\\)([%&$#])")
_REFS = re.compile(r"\\(?:cite[a-z]*|ref|eqref|autoref|cref|Cref|label)\*?(?:\[[^\]]*\])*\{[^}]*\}\s?")
_SUP = str.maketrans("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ")
_SUB = str.maketrans("0123456789+-=()aeiojklmnrstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒⱼₖₗₘₙᵣₛₜᵤᵥₓ")
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}]{1,12})\}|([0-9A-Za-z+\-=()]))")
TEX_HINT = re.compile(r"\$[^$]+\$|\\[A-Za-z]+")  # math or a control word: worth converting


def _scripts(m: re.Match) -> str:
    """x^2 -> x², a_{ij} -> aᵢⱼ where Unicode has every character; else as written."""
    body = m.group(2) or m.group(3)
    table = _SUP if m.group(1) == "^" else _SUB
    out = body.translate(table)
    return out if all(a != b for a, b in zip(body, out)) else m.group(0)


def _latex_converter():
    from pylatexenc.latex2text import LatexNodes2Text  # loaded when a text first has TeX

    global _converter
    if _converter is None:
        _converter = LatexNodes2Text(math_mode="text")
    return _converter


_converter = None


def tex_math_text(math: str) -> str:
    """The body of one ``$...$`` as Unicode: ``\\times`` -> ×, ``\\mu`` -> μ, ``x^2`` -> x²."""
    try:
        # "{}" ends a control word before the script: \alpha_i -> \alpha{}ᵢ
        body = _SCRIPT.sub(lambda m: "{}" + _scripts(m) if _scripts(m) != m.group(0) else m.group(0), math)
        text = _latex_converter().latex_to_text("$" + _REFS.sub("", body) + "$")
    except Exception:  # pylatexenc is lenient; an unparseable formula is shown as written
        return math
    return " ".join(text.split())


def _edges(raw: str, text: str) -> str:
    """``text`` with ``raw``'s leading and trailing spaces: the parts are joined again."""
    return raw[: len(raw) - len(raw.lstrip())] + text + (raw[len(raw.rstrip()):] if raw.strip() else "")


_NOT_MATH = re.compile(r"^[^\\^_{}]*\b[A-Za-z]{3,}\s")  # "$5 and $10": prices, not a formula


def tex_prose_text(prose: str) -> str:
    """Prose outside math with its TeX commands read: ``\\emph{x}`` -> x, ``\\textbf{P}ref`` -> Pref."""
    if "\\" not in prose and "{" not in prose:
        return prose
    try:
        text = _latex_converter().latex_to_text(_PROSE_SPECIALS.sub(r"\\\1", _REFS.sub("", prose)))
    except Exception:
        return prose
    return _edges(prose, " ".join(text.split()))


def is_formula(body: str) -> bool:
    """The text between two dollars is a formula (not "$5 and $10")."""
    return not _NOT_MATH.search(body)


def tex_to_text(s: str | None) -> str:
    """Display text (display_text's output) as plain Unicode, for feeds, e-mail and terminals:
    math between dollars and TeX commands become the characters they stand for. Text without
    TeX comes back unchanged."""
    if not s or not TEX_HINT.search(s):
        return s or ""
    parts = _MATH_RE.split(s)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            body = part.strip("$")
            out.append(part if not is_formula(body) else tex_math_text(body))
        else:
            out.append(tex_prose_text(part))
    return "".join(out)
