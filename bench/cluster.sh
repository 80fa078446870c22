#!/usr/bin/env bash
# Cluster propagation with the release binary: one control plane and 3 data planes on this
# machine (commit → every data plane acknowledged, with 100, 10,000 and 100,000 routes), then 100
# simulated data planes speaking the real protocol. Prints Markdown for docs/benchmarks.md.
#
#   bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-packages libsqlite3-dev zlib1g-dev python3
swift build -c release --product gatehouse >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/cluster.py "$PWD/.build/release/gatehouse" "$work"
