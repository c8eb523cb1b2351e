#!/usr/bin/env bash
# Set up paperwire and run it on the bundled demo data (demo/): ingest, index, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
# The checkout's paperwire.toml names the demo database, so that any later `paperwire` command
# run in the checkout (a new shell included) uses it. An existing paperwire.toml is left alone.
[ -f paperwire.toml ] || printf '%s\n' '# written by scripts/demo.sh: paperwire commands run in this checkout use the demo database' \
    'db = "var/demo.db"' > paperwire.toml
export PAPERWIRE_DB=${PAPERWIRE_DB:-var/demo.db}
paperwire ingest demo/records.jsonl.gz demo/hf/*.json
paperwire stats
# Meaning search and "similar papers" need paper vectors. The demo ships them (computed by the
# same model: demo/vectors-minilm.npz); papers whose text differs from the file's are embedded.
# It runs beside the server: the site is up at once, search says "lexical" until vectors
# exist, and the server picks them up as they land. Progress and time left: var/index.log.
mkdir -p var
paperwire index --vectors demo/vectors-minilm.npz > var/index.log 2>&1 &
index_pid=$!
trap 'kill $index_pid 2>/dev/null || true' EXIT
echo "indexing in the background (log: var/index.log)"
# the site and API; the URL is printed (Ctrl+C stops). PAPERWIRE_PORT / PAPERWIRE_HOST change it.
paperwire serve
