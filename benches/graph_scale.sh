#!/usr/bin/env bash
# The graph sync at a large distributor's scale: 5,000 resellers and 500,000 customers by
# default (TG_SCALE_RESELLERS, TG_SCALE_CUSTOMERS), the vendor's 10 requests/s per API, three
# gateways on one PostgreSQL. Takes about as long as the first sync the vendor budget allows
# (half an hour at the defaults). See benches/graph_scale.py and benches/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
exec .venv/bin/python benches/graph_scale.py "$@"
