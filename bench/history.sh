#!/usr/bin/env bash
# History storage with the release binary: the database's size on disk after 10,000 routes and
# 1,000 single-route changes, and GET /versions/{n} latency for old and new n. Prints Markdown
# for docs/benchmarks.md.
#
#   bench/history.sh [ROUTES] [CHANGES] [READS] [-- extra control-plane flags]
#
# BINARY=path measures another build (an older release, for the figures before a change).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-packages libsqlite3-dev python3
if [ -z "${BINARY:-}" ]; then
  swift build -c release --product gatehouse >&2
  BINARY=$PWD/.build/release/gatehouse
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=("${@:1:3}")
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
python3 bench/history.py "$BINARY" "$work" "${args[0]:-10000}" "${args[1]:-1000}" "${args[2]:-20}" "$@"
