"""Pure text functions: arXiv ids, display text, author splitting, code-link extraction."""

from __future__ import annotations

import pytest

from paperwire.text import canonical_id, classify_link, display_text, extract_links, split_arxiv_id, split_authors


@pytest.mark.parametrize("raw, expected", [
    ("2501.01234v2", ("2501.01234", 2)),
    ("0704.0001", ("0704.0001", None)),
    ("hep-th/9901001v3", ("hep-th/9901001", 3)),
    ("math.GT/0309136", ("math.GT/0309136", None)),
    ("arXiv:2501.01234", ("2501.01234", None)),
    ("https://arxiv.org/abs/2403.16981v2", ("2403.16981", 2)),
    ("https://arxiv.org/pdf/2403.16981v2.pdf", ("2403.16981", 2)),
    ("oai:arXiv.org:1412.8323", ("1412.8323", None)),
    ("abc", None),
    ("", None),
    ("cacm:12", None),
])
def test_split_arxiv_id(raw, expected):
    assert split_arxiv_id(raw) == expected


def test_canonical_id_drops_version():
    assert canonical_id("2501.01234v7") == "2501.01234"


@pytest.mark.parametrize("raw, expected", [
    ("Toolbox for reconstructing quantum theory from rules on information\n  acquisition",
     "Toolbox for reconstructing quantum theory from rules on information acquisition"),
    ("Caf\\'e and na\\\"{i}ve", "Café and naïve"),
    ("{\\'E}cole \\c{c}a \\v{s}", "École ça š"),
    ("Erd\\H{o}s and G\\\"odel", "Erdős and Gödel"),
    ("Stra\\ss e, \\o re", "Straße, øre"),
    ("R&amp;D &lt;fast&gt;", "R&D <fast>"),
    ("Q\\&A and 5\\% more", "Q&A and 5% more"),
    ("``quoted'' text", "\u201cquoted\u201d text"),
    ("pages 3--5 --- yes", "pages 3\u20135 \u2014 yes"),
    ("plain title", "plain title"),
    ("", ""),
    (None, ""),
])
def test_display_text(raw, expected):
    assert display_text(raw) == expected


def test_display_text_leaves_math_alone():
    raw = "Bounds $O(n^{\\'a})$ and $$\\sum_i x_i -- y$$ for Schr\\\"odinger"
    assert display_text(raw) == "Bounds $O(n^{\\'a})$ and $$\\sum_i x_i -- y$$ for Schrödinger"


def test_display_text_folds_every_kind_of_whitespace():
    assert display_text("a\tb\r\n c\n\n d  ") == "a b c d"


def test_split_authors():
    assert split_authors("A. One, B. Two (MIT, CSAIL) and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("M. M\\\"uller and J. Smith") == ["M. Müller", "J. Smith"]


def urls(text, *more):
    return [(l.kind, l.url) for l in extract_links(text, *more)]


@pytest.mark.parametrize("text, expected", [
    # trailing punctuation, .git, fragments, query strings of GitHub pages
    ("Code is available at https://github.com/Luo-Yihong/R0.", [("github", "https://github.com/Luo-Yihong/R0")]),
    ("see (https://github.com/a/b), too", [("github", "https://github.com/a/b")]),
    ("at https://github.com/ThomasMendelson/BAISeg.git", [("github", "https://github.com/ThomasMendelson/BAISeg")]),
    ("at https://github.com/StarNextDay/SubDAPS.git.", [("github", "https://github.com/StarNextDay/SubDAPS")]),
    ("at https://github.com/a/b#readme and https://github.com/a/b/tree/main/src?x=1",
     [("github", "https://github.com/a/b")]),
    ("www.github.com/a/b; github.com/c/d", [("github", "https://github.com/a/b"), ("github", "https://github.com/c/d")]),
    # broken by typesetting
    ("at https://github.com/foo/\nbar-baz. Next", [("github", "https://github.com/foo/bar-baz")]),
    ("Code available at: https://github.com/BreuerLabs/E- LDA", [("github", "https://github.com/BreuerLabs/E-LDA")]),
    ("at https://github.com/luca-hagen/ Wasserstein-BDG-medical-VQA.",
     [("github", "https://github.com/luca-hagen/Wasserstein-BDG-medical-VQA")]),
    ("on\nhttps://github$.$com/VanLinLin/DenseSR ||", [("github", "https://github.com/VanLinLin/DenseSR")]),
    ("available at https://github.com/foo/bar.\nWe also show", [("github", "https://github.com/foo/bar")]),
    ("page: https://x.github.io/proj/\nCode: https://github.com/x/proj",
     [("project", "https://x.github.io/proj/"), ("github", "https://github.com/x/proj")]),
    # LaTeX and markdown wrappers
    ("released at \\href{https://github.com/MagicVicCoder/TPRL}{\\textcolor{p}{https://github.com/MagicVicCoder/TPRL}}.",
     [("github", "https://github.com/MagicVicCoder/TPRL")]),
    ("Code is available at [this https URL](https://github.com/movinghoon/lgm)",
     [("github", "https://github.com/movinghoon/lgm")]),
    ("Project page: \\url{https://aad-1.github.io/}", [("project", "https://aad-1.github.io/")]),
    ("Codes are available online:\n  \\url{https://github.com/mmm-cc/BIM\\_for\\_MTL}",
     [("github", "https://github.com/mmm-cc/BIM_for_MTL")]),
    # not repositories
    ("Code: https://github.com/c1h1r1i1s1 (multiple repositories)", []),
    ("will be at github.com/yongxianLiu/ soon.", []),
    ("See https://github.com/features/copilot and https://github.com/topics/nlp", []),
    ("Demo video: https://youtu.be/udBxj35GEKI?t=499", []),
    ("doi https://doi.org/10.1000/xyz and arXiv https://arxiv.org/abs/2501.01234", []),
    ("data from https://www.census.gov/data.html", []),  # a URL without a project hint
    ("Presented at the 17th Workshop on Optimization and Learning (OptLearnMAS, https://optlearnmas.github.io)", []),
    # other hosts
    ("https://gitlab.com/group/sub/proj/-/tree/main", [("gitlab", "https://gitlab.com/group/sub/proj")]),
    ("https://huggingface.co/datasets/a-m-team/AM-DeepSeek-Distilled-40M",
     [("hf_dataset", "https://huggingface.co/datasets/a-m-team/AM-DeepSeek-Distilled-40M")]),
    ("demo https://huggingface.co/spaces/u/app/tree/main", [("hf_space", "https://huggingface.co/spaces/u/app")]),
    ("model https://huggingface.co/org/model-7b/blob/main/README.md", [("hf_model", "https://huggingface.co/org/model-7b")]),
    ("https://huggingface.co/papers/2501.01234", []),
    ("The code has been publicly released at: https://anonymous.4open.science/r/DCDB-D3C2.",
     [("project", "https://anonymous.4open.science/r/DCDB-D3C2")]),
    ("Project page: https://imagine.enpc.fr/~lucas.ventura/chapter-llama/",
     [("project", "https://imagine.enpc.fr/~lucas.ventura/chapter-llama/")]),
    ("no links here at all", []),
])
def test_extract_links(text, expected):
    assert urls(text) == expected


def test_links_are_deduplicated_across_abstract_and_comments():
    assert urls("Code: https://github.com/A/B.", "Code at https://github.com/a/b") == [("github", "https://github.com/A/B")]


@pytest.mark.parametrize("url, expected", [
    ("https://a.github.io", "https://a.github.io/"),
    ("https://a.github.io/x", "https://a.github.io/x/"),
    ("https://a.github.io/x/index.html", "https://a.github.io/x/index.html"),
    ("http://www.github.com/o/r.git/", "https://github.com/o/r"),
])
def test_classify_link_normalises(url, expected):
    assert classify_link(url).url == expected
