#!/usr/bin/env bash
# What observability costs, in one run: three Gatehouse processes with the same route to the same
# nginx upstream (1 KiB body), each with one worker pinned to CPU 1 (wrk and nginx on CPU 0), in
# alternating rounds:
#   off     — --request-metrics off
#   metrics — request metrics on (the default)
#   log     — request metrics on and --access-log to a file
# then a scrape of 10,000 routes that all had traffic: wrk on one route with and without a
# client scraping /metrics every second (ten times Prometheus' default rate), and how long a
# scrape takes.
# Prints requests/s, p50, p99, the CPU each request cost the Gatehouse process (user + system,
# from /proc) and the ratios to `off`.
#
#   bench/observability.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}

scripts/ensure-packages wrk nginx-light curl python3
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  stop_upstream "$work"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080
taskset -c 0 true 2>/dev/null && PIN_PROXY="taskset -c 1" PIN_LOAD="taskset -c 0" || PIN_PROXY="" PIN_LOAD=""
start_upstream "$work" "$UPSTREAM_PORT" 1024
[ -n "$PIN_LOAD" ] && for pid in $(pgrep -f "nginx.*$work/upstream"); do taskset -pc 0 "$pid" >/dev/null; done

# start NAME PROXY ADMIN STATUS FLAGS...
start() {
  local name=$1 proxy=$2 admin=$3 status=$4
  shift 4
  $PIN_PROXY .build/release/gatehouse serve --db "$work/$name.db" --workers 1 --log-level warning \
    --proxy-listen 127.0.0.1:$proxy --admin-listen 127.0.0.1:$admin --status-listen 127.0.0.1:$status "$@" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "127.0.0.1:$admin/" >/dev/null && break; sleep 0.1; done
}
start off 18000 18001 18100 --request-metrics off
start metrics 18010 18011 18110
start log 18020 18021 18120 --access-log "$work/access.log"
cat > "$work/config.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM_PORT" }] }],
  "routes": [{ "name": "plain", "paths": ["/plain"], "strip_path": true, "upstream": "bench" }] }
JSON
for admin in 18001 18011 18021; do curl -fs -X PUT "127.0.0.1:$admin/config" --data-binary @"$work/config.json" >/dev/null; done
for proxy in 18000 18010 18020; do
  curl -fs "127.0.0.1:$proxy/plain/body" | cmp -s - "$work/upstream/www/body" || { echo "port $proxy does not serve the body" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
measure() {  # measure URL PID → "rps p50 p99 cpu_us_per_request errors"
  local out before after requests
  before=$(cpu_ticks "$2")
  out=$($PIN_LOAD wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$1")
  after=$(cpu_ticks "$2")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(awk -v t=$((after - before)) -v r="$requests" -v hz="$ticks_per_second" 'BEGIN {printf "%.2f", t / hz * 1e6 / r}')" \
    "$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')"
}

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  # Each round in the other order, so no mode always follows the same one.
  order="off:18000:0 metrics:18010:1 log:18020:2"
  [ $((round % 2)) -eq 0 ] && order="log:18020:2 metrics:18010:1 off:18000:0"
  for mode in $order; do
    IFS=: read -r name port index <<<"$mode"
    line=$(measure "http://127.0.0.1:$port/plain/body" "${pids[$index]}")
    printf '%s\t%s\t%s\n' "$round" "$name" "$line" >> "$results"
    echo "round $round $name: $line" >&2
  done
done
logged=$(wc -l < "$work/access.log")

# 10,000 routes, every one with traffic, on the `metrics` process.
python3 - "$work/routes.json" "$UPSTREAM_PORT" <<'PY'
import json, sys
routes = [{"name": f"r{i}", "paths": [f"/r{i}"], "strip_path": True, "upstream": "bench"} for i in range(10000)]
json.dump({"format_version": 1, "upstreams": [{"name": "bench", "targets": [{"target": f"127.0.0.1:{sys.argv[2]}"}]}], "routes": routes},
          open(sys.argv[1], "w"))
PY
curl -fs -X PUT "127.0.0.1:18011/config" --data-binary @"$work/routes.json" >/dev/null
cat > "$work/every.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/r" .. (n % 10000) .. "/body")
end
LUA
$PIN_LOAD wrk -t1 -c8 -d5s -s "$work/every.lua" "http://127.0.0.1:18010/" >/dev/null
series=$(curl -fs "127.0.0.1:18110/metrics" | grep -c '^gatehouse_http_requests_total{' || true)
scrape=$(curl -fs -o /dev/null -w '%{time_total}' "127.0.0.1:18110/metrics")
size=$(curl -fs "127.0.0.1:18110/metrics" | wc -c)
gzipped=$(curl -fs -H 'Accept-Encoding: gzip' "127.0.0.1:18110/metrics" | wc -c)
# As Prometheus scrapes (it asks for gzip), and as a scraper that takes the text.
scraping() { while true; do curl -fs -o /dev/null $1 "127.0.0.1:18110/metrics"; sleep 1; done; }
for round in $(seq "$ROUNDS"); do
  order="quiet gzip text"
  [ $((round % 3)) = 2 ] && order="gzip text quiet"
  [ $((round % 3)) = 0 ] && order="text quiet gzip"
  for mode in $order; do
    scraper=""
    if [ "$mode" != quiet ]; then
      flag=$([ "$mode" = gzip ] && echo --compressed || echo --no-compressed)
      $PIN_LOAD bash -c "$(declare -f scraping); scraping $flag" &
      scraper=$!
    fi
    line=$(measure "http://127.0.0.1:18010/r1/body" "${pids[1]}")
    [ -n "$scraper" ] && { kill "$scraper"; wait "$scraper" 2>/dev/null || true; }
    printf '%s\t%s\t%s\n' "$round" "$mode" "$line" >> "$results"
    echo "round $round 10k routes, $mode: $line" >&2
  done
done

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$logged" "$series" "$scrape" "$size" "$gzipped" <<'PY'
import statistics, sys
path, rounds, seconds, connections, logged, series, scrape, size, gzipped = sys.argv[1:]
rows = {}
for line in open(path):
    _, name, rps, p50, p99, cpu, errors = (line.rstrip("\n").split("\t") + [""])[:7]
    rows.setdefault(name, []).append((float(rps), p50, p99, errors.strip(), float(cpu)))
def median(name): return statistics.median(r[0] for r in rows[name])
def cpu(name): return statistics.median(r[4] for r in rows[name])
print(f"wrk -c{connections}, {rounds} alternating rounds of {seconds} s, 1 KiB body, one worker pinned to CPU 1; medians.\n")
print("| mode | requests/s | p50 | p99 | CPU µs/request | requests/s to off | CPU to off |")
print("|---|---|---|---|---|---|---|")
for name, label in (("off", "`--request-metrics off`"), ("metrics", "request metrics on (default)"), ("log", "metrics + `--access-log` file")):
    mid = sorted(rows[name], key=lambda r: r[0])[len(rows[name]) // 2]
    print(f"| {label} | {median(name):,.0f} | {mid[1]} | {mid[2]} | {cpu(name):.1f} | {median(name) / median('off'):.2f} | {cpu(name) / cpu('off'):.2f} |")
print(f"\nThe access log wrote {int(logged):,} lines.\n")
print(f"10,000 routes with traffic: {int(series):,} request series; a scrape is {int(size) / 1e6:.1f} MB of text "
      f"({int(gzipped) / 1e6:.2f} MB gzipped) and took {float(scrape) * 1000:.0f} ms.\n")
def ms(text): return float(text[:-2]) if text.endswith("ms") else float(text[:-2]) / 1000 if text.endswith("us") else float(text[:-1]) * 1000
print("| load on one route | requests/s | p50 | p99 (median) | p99 of the rounds | CPU µs/request |")
print("|---|---|---|---|---|---|")
for name, label in (("quiet", "no scrape"), ("gzip", "scraped every second, gzip (as Prometheus)"), ("text", "scraped every second, text")):
    mid = sorted(rows[name], key=lambda r: r[0])[len(rows[name]) // 2]
    p99s = sorted(ms(r[2]) for r in rows[name])
    print(f"| {label} | {median(name):,.0f} | {mid[1]} | {statistics.median(p99s):.2f}ms | {p99s[0]:.2f}–{p99s[-1]:.2f}ms | {cpu(name):.1f} |")
errors = [f"{n}: {r[3]}" for n, rs in rows.items() for r in rs if r[3]]
if errors: print("\nErrors: " + "; ".join(errors))
PY
