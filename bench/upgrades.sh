#!/usr/bin/env bash
# 20 binary upgrades in a row (deploy/upgrade.sh) under wrk -c32, then 20 under hey at half of
# the maximum rate; counts socket errors and non-2xx for each run. Prints Markdown.
# UPGRADES (20) sets the number of upgrades per run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-packages wrk hey nginx-light curl python3
swift build -c release --product gatehouse >&2
exec python3 bench/upgrades.py
