"""TeX in titles and abstracts as HTML: formulas as MathML (rendered by the browser itself, so
nothing is loaded from anywhere), TeX commands in prose as the text they stand for.

latex2mathml passes some input through unescaped (``\\text{<img ...>}``) and keeps ``\\href``
and ``\\style`` attributes, so its output is parsed and rebuilt from an allow-list of MathML
elements and attributes; a formula that does not survive that is shown as Unicode text.
"""

from __future__ import annotations

import functools

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
