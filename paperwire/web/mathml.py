"""TeX in titles and abstracts as HTML: formulas as MathML (rendered by the browser itself, so
nothing is loaded from anywhere), TeX commands in prose as the text they stand for.

latex2mathml passes some input through unescaped (``\\text{<img ...>}``) and keeps ``\\href``
and ``\\style`` attributes, so its output is parsed and rebuilt from an allow-list of MathML
elements and attributes; a formula that does not survive that is shown as Unicode text.
"""

from __future__ import annotations

import functools
import unicodedata

from lxml import etree
from markupsafe import Markup, escape

from paperwire.text import MATH_RE, TEX_HINT, is_formula, tex_math_text, tex_prose_text

MATHML = "http://www.w3.org/1998/Math/MathML"
ELEMENTS = {"math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "msub", "msup", "msubsup", "mfrac",
            "msqrt", "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mpadded", "mphantom",
            "menclose", "mstyle", "semantics", "annotation", "mmultiscripts", "mprescripts", "none"}
ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent",
              "accentunder", "movablelimits", "largeop", "symmetric", "columnalign", "rowspacing",
              "columnspacing", "displaystyle", "scriptlevel", "linethickness", "minsize", "maxsize", "width",
              "notation", "form", "columnlines", "rowlines", "frame"}


# MathML Core (what browsers draw) ignores mathvariant other than "normal": a letter styled by it
# is written as its own Unicode character instead (\\mathbb R -> ℝ, \\mathfrak g -> 𝔤)
_VARIANTS = {"double-struck": "DOUBLE-STRUCK", "script": "SCRIPT", "fraktur": "FRAKTUR", "bold": "BOLD",
             "bold-italic": "BOLD ITALIC", "bold-script": "BOLD SCRIPT", "bold-fraktur": "BOLD FRAKTUR",
             "sans-serif": "SANS-SERIF", "monospace": "MONOSPACE"}
_OLD_NAMES = {"FRAKTUR": "BLACK-LETTER"}  # the letters Unicode had before the math block (ℌ, ℭ)


def _styled(ch: str, variant: str) -> str:
    style = _VARIANTS[variant]
    if ch.isascii() and ch.isalpha():
        kind = "CAPITAL" if ch.isupper() else "SMALL"
        names = [f"MATHEMATICAL {style} {kind} {ch.upper()}", f"{_OLD_NAMES.get(style, style)} {kind} {ch.upper()}"]
    elif ch.isascii() and ch.isdigit():
        names = [f"MATHEMATICAL {style} DIGIT {unicodedata.name(ch).split()[-1]}"]
    else:
        return ch
    for name in names:
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return ch


def _clean(el) -> bool:
    """Strip attributes off the allow-list in place; False when an element is not MathML."""
    for node in el.iter():
        if not isinstance(node.tag, str):
            return False  # a comment or processing instruction
        ns, _, tag = node.tag.rpartition("}")
        if ns.lstrip("{") != MATHML or tag not in ELEMENTS:
            return False
        for name in list(node.attrib):
            if name not in ATTRIBUTES:
                del node.attrib[name]
        variant = node.get("mathvariant")
        if variant in _VARIANTS and node.text:
            node.text = "".join(_styled(ch, variant) for ch in node.text)
            node.set("mathvariant", "normal")
        if "\\" in (node.text or ""):  # a command latex2mathml did not know: text reads better
            return False
    return True


@functools.lru_cache(maxsize=4096)
def formula_html(body: str) -> str:
    """One formula (without its dollars) as safe MathML, or as escaped Unicode text."""
    from latex2mathml.converter import convert  # loaded with the first formula shown

    try:
        root = etree.fromstring(convert(body).encode())
        if _clean(root):
            root.set("aria-label", tex_math_text(body))
            return etree.tostring(root, encoding="unicode")
    except Exception:  # latex2mathml refuses some input, or makes XML that does not parse
        pass
    return str(escape(tex_math_text(body)))


def tex_html(s: str | None) -> Markup:
    """Display text as HTML: formulas as MathML, TeX commands in prose read, the rest escaped."""
    if not s:
        return Markup("")
    if not TEX_HINT.search(s):
        return escape(s)
    out = []
    for i, part in enumerate(MATH_RE.split(s)):
        body = part.strip("$")
        if i % 2 and is_formula(body):
            out.append(formula_html(body))
        else:
            out.append(str(escape(tex_prose_text(part) if i % 2 == 0 else part)))
    return Markup("".join(out))
