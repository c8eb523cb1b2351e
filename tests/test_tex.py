"""TeX in titles and abstracts: readable Unicode text (feeds, e-mail, terminals) and safe MathML
(pages). The strings are the kinds arXiv metadata carries."""

import re

import pytest
from lxml import etree

from paperwire.text import tex_to_text
from paperwire.web.mathml import tex_html

RAW_TEX = re.compile(r"\$[^$]+\$|\\[A-Za-z]+")


@pytest.mark.parametrize("raw, text", [
    (r"7.7$\times$ faster", "7.7× faster"),
    (r"$\mu$Flow: fast flows", "μFlow: fast flows"),
    (r"\emph{robust} and \textbf{P}reference", "robust and Preference"),
    (r"error $O(n^2 \log n)$ with $\alpha_i$ and $x_{ij}$", "error O(n² log n) with αᵢ and xᵢⱼ"),
    (r"the $\ell_1$-norm, $d\geq 3$, $\sim$2x", "the ℓ₁-norm, d≥ 3, ∼2x"),
    (r"gains of 5% \& more as in \cite{smith2020}", "gains of 5% & more as in"),
    ("costs $5 and $10 each", "costs $5 and $10 each"),  # prices, not a formula
    ("no TeX at all: 5% better", "no TeX at all: 5% better"),
])
def test_tex_to_text(raw, text):
    assert tex_to_text(raw) == text


def test_a_percent_sign_never_drops_the_rest_of_an_abstract():
    # in TeX % starts a comment: read naively, everything after it would vanish
    assert tex_to_text(r"we gain 5% on $\mathcal{D}$ and 7% on the rest") == "we gain 5% on 𝒟 and 7% on the rest"


def test_pages_get_mathml_without_raw_tex():
    html = str(tex_html(r"a 7.7$\times$ faster $\mu$Flow with $\mathcal{L}_{\text{KL}}$, \emph{robust}"))
    assert html.count("<math") == 3
    root = etree.fromstring(f"<p>{html}</p>".encode())
    visible = "".join(root.itertext())
    assert not RAW_TEX.search(visible), visible
    assert "×" in visible and "μ" in visible and "robust" in visible


@pytest.mark.parametrize("attack", [
    r"$\text{<img src=x onerror=alert(1)>}$",
    r"$\href{javascript:alert(1)}{x}$",
    r"$\style{color:red}{x}$ <script>alert(1)</script>",
    r"$\text{</math><script>alert(1)</script>}$",
])
def test_formulas_cannot_carry_markup(attack):
    html = str(tex_html(attack))
    assert "<script" not in html and "<img" not in html
    assert "href=" not in html and "style=" not in html
    etree.fromstring(f"<p>{html}</p>".encode())  # well-formed: nothing escaped its element


def test_styled_letters_become_their_unicode_characters():
    # browsers (MathML Core) ignore mathvariant="double-struck": the letter itself must be ℝ
    html = str(tex_html(r"kissing in $\mathbb R^{12}$ and $\mathfrak g$"))
    assert "ℝ" in html and "𝔤" in html and "double-struck" not in html and "fraktur" not in html
