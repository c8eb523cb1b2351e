"""Paper vectors carried in a file (how the demo ships its vectors): `index --export-vectors`
writes them, `index --vectors` takes them for the papers whose text and model match and
embeds every other paper with the encoder, so an edited paper never keeps a stale vector."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.store import open_store
from paperwire.store import search_index as idx
from paperwire.store.papers import upsert_papers


def P(pid, title, abstract):
    return Paper(id=pid, title=title, abstract=abstract, authors=["Ada Lovelace"], categories=["cs.LG"],
                 published="2025-01-05T00:00:00Z", versions=[Version(1, "2025-01-05T00:00:00Z")])


PAPERS = [P("2501.00001", "Equivariant graph networks", "Rotation equivariant message passing on point clouds."),
          P("2501.00002", "Protein folding with attention", "Structure prediction from amino-acid sequences."),
          P("2501.00003", "Sourdough bread", "A long cold fermentation gives a better crumb.")]


def _store(path, papers):
    settings = Settings.load(env={}, db=str(path), embed_model="minilm")
    store = open_store(settings)
    upsert_papers(store, papers, source="test")
    return store, settings


def _vectors(store) -> dict[str, np.ndarray]:
    docs = idx.docs_for_papers(store, [p.id for p in PAPERS])
    got = idx.get_vectors(store, "minilm", list(docs.values()))
    return {pid: got[d] for pid, d in docs.items() if d in got}


@pytest.mark.slow
def test_vectors_file_round_trip_takes_only_matching_texts(tmp_path):
    src, settings = _store(tmp_path / "a.db", PAPERS)
    assert indexer.refresh(src, settings)["embedded"] == 3
    out = tmp_path / "vectors.npz"
    assert indexer.export_vectors(src, "minilm", out) == 3
    original = _vectors(src)

    edited = [PAPERS[0], PAPERS[1], P("2501.00003", "Sourdough bread", "Now about rye, with a new abstract.")]
    dst, dsettings = _store(tmp_path / "b.db", edited)
    res = indexer.refresh(dst, dsettings, vectors_file=out)
    assert res["vectors_imported"] == 2 and res["embedded"] == 1  # the edited paper is embedded afresh
    copied = _vectors(dst)
    np.testing.assert_array_equal(copied["2501.00001"], original["2501.00001"])
    assert float(copied["2501.00003"] @ original["2501.00003"]) < 0.99
    assert res["vectors"] == 3


def test_vectors_of_another_model_are_not_used(tmp_path):
    src, _ = _store(tmp_path / "a.db", PAPERS)
    out = tmp_path / "other.npz"
    np.savez_compressed(out, model=np.array("static-minilm-256"), ids=np.array(["2501.00001"]),
                        hashes=np.array(["x"]), vectors=np.zeros((1, 256), dtype="<f2"))
    assert indexer.import_vectors(src, "minilm", out) == {"imported": 0, "file_model": "static-minilm-256"}
    src.close()
    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "index", "--vectors", str(out)])
    assert r.exit_code == 0, r.output
    assert "vectors of model static-minilm-256, not minilm: none used" in r.output
    assert "embedded 3 papers" in r.output
