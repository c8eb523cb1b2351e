#!/usr/bin/env bash
# Set up paperwire and run it on the bundled demo data (demo/): ingest, index, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export PAPERWIRE_DB=${PAPERWIRE_DB:-var/demo.db}
paperwire ingest demo/records.jsonl.gz demo/hf-daily-papers.json
paperwire stats
# meaning search and "similar papers" need the vector index; re-runs only embed what changed
if paperwire index --help >/dev/null 2>&1; then
    paperwire index
fi
# the site and API; the URL is printed (Ctrl+C stops). PAPERWIRE_PORT / PAPERWIRE_HOST change it.
exec paperwire serve
