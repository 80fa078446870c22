#!/usr/bin/env bash
# Differential fuzzing of Gatehouse's request parser against llhttp (SwiftNIO's decoder), with
# libFuzzer (the toolchain's -sanitize=fuzzer): every input is given to both, and one on which
# they disagree (Tests/GatehouseParserOracle) stops the run and is kept as a reproducer file.
#
#   bench/fuzz-parser.sh [RUNS]      (default: 10,000,000 inputs)
#
# Starts from the seed corpus (Tests/Fixtures/parser-corpus); the inputs libFuzzer finds worth
# keeping go to .build/fuzz/corpus, reproducers to .build/fuzz/artifacts. Replay one with the
# plain build: swift build --product GatehouseFuzz && .build/debug/GatehouseFuzz FILE
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10000000}
scratch=.build/fuzz
# Its own build directory: the sanitizer flags apply to every module it compiles. Linked with
# lld: gold fails on the entry point SwiftPM gives executables beside libFuzzer's.
swift build -c release --scratch-path "$scratch" --product GatehouseFuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >&2
mkdir -p "$scratch/corpus" "$scratch/artifacts"
cp -n Tests/Fixtures/parser-corpus/*.http "$scratch/corpus/" 2>/dev/null || true
log="$scratch/fuzz.log"
status=0
FUZZ_ARTIFACTS="$scratch/artifacts" SWIFT_BACKTRACE=enable=no "$scratch/release/GatehouseFuzz" -runs="$RUNS" -max_len=4096 \
  -artifact_prefix="$scratch/artifacts/" -print_final_stats=1 "$scratch/corpus" > "$log" 2>&1 || status=$?
grep -E "^#[0-9]+ +(pulse|DONE)|disagreement|ERROR" "$log" >&2 || true
runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
# (libFuzzer also keeps the input as a crash- file when the check ends the run.)
reproducers=$(ls "$scratch/artifacts" | grep -c '^disagreement-' || true)
echo "inputs run: $runs; disagreements: $reproducers (reproducers in $scratch/artifacts)"
[ "$status" -eq 0 ] && [ "$reproducers" -eq 0 ]
