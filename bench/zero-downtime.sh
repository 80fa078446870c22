#!/usr/bin/env bash
# Config churn under load, propagation with 10,000 routes, and a binary upgrade under load.
# Prints Markdown; CHURN_SECONDS (60) shortens the churn phase, WINDOW_SECONDS (10) sets the length
# of each steady and churn window, CHURN_ONLY=1 runs the churn rounds alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-packages wrk hey nginx-light python3
swift build -c release --product gatehouse >&2
exec python3 bench/zero_downtime.py
