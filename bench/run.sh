#!/usr/bin/env bash
# Gatehouse against nginx as a plain reverse proxy and against the upstream direct, in one run,
# alternating so that this noisy machine's drift hits all alike: direct, nginx, Gatehouse with one
# route, Gatehouse with 10,000 routes (matching the last-added one). Prints a Markdown table with
# medians and ratios; then latency at two fixed rates for all (a quarter and half of Gatehouse's
# maximum, with GatehouseLoad), so the p99 each adds over direct is compared at the same load;
# then compile times for
# 10,000 and 100,000 routes and memory per route.
#
#   bench/run.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), THREADS (1), WORKERS (1: worker_processes of nginx as the proxy, and
# gatehouse --workers; the upstream nginx always has one), BODY_BYTES (1024), REQUEST_HEADERS
# (`browser`: wrk's requests carry ten header fields as a browser's do, ~600 bytes; default: Host only).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
BODY_BYTES=${BODY_BYTES:-1024}
headers=()
if [ "${REQUEST_HEADERS:-}" = browser ]; then
  headers=(-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
    -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
    -H 'Accept-Language: en-US,en;q=0.9' -H 'Accept-Encoding: gzip, deflate, br'
    -H 'Cookie: session=4f1d2c3b4a5968778695a4b3c2d1e0f1; theme=dark; consent=yes'
    -H 'Referer: https://www.example.com/catalog/items?page=2' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Site: same-origin'
    -H 'Cache-Control: max-age=0' -H 'Upgrade-Insecure-Requests: 1')
fi

scripts/ensure-packages wrk nginx-light curl python3
swift build -c release --product gatehouse >&2
swift build -c release --product GatehouseBench >&2
swift build -c release --product GatehouseLoad >&2

work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  stop_upstream "$work"
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null || true
  [ -n "${gatehouse10k_pid:-}" ] && kill "$gatehouse10k_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080 NGINX_PORT=18081 PROXY_PORT=18000 ADMIN_PORT=18001 STATUS_PORT=18100
PROXY10K_PORT=18010 ADMIN10K_PORT=18011 STATUS10K_PORT=18110
mkdir -p "$work/logs"
# Two nginx processes: the upstream, and nginx as the proxy under test. Each proxy (nginx and
# Gatehouse alike) then reaches the same upstream process over loopback; an nginx that served
# the upstream from its own worker would answer its upstream requests without a thread switch.
start_upstream "$work" "$UPSTREAM_PORT" "$BODY_BYTES"
{ nginx_preamble "$WORKERS" "$work"; cat <<NGINX
  upstream backend { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
NGINX
} > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"

.build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level warning \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$STATUS_PORT/status/ready" >/dev/null && break; sleep 0.1; done
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/upstreams" -d "{\"name\":\"bench\",\"targets\":[{\"target\":\"127.0.0.1:$UPSTREAM_PORT\"}]}" >/dev/null
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/routes" -d '{"name":"bench","paths":["/"],"upstream":"bench"}' >/dev/null

# A second Gatehouse with 10,000 routes /svc0 … /svc9999 (strip_path), measured on the last one.
.build/release/gatehouse serve --db "$work/gatehouse10k.db" --workers "$WORKERS" \
  --proxy-listen 127.0.0.1:$PROXY10K_PORT --admin-listen 127.0.0.1:$ADMIN10K_PORT --status-listen 127.0.0.1:$STATUS10K_PORT \
  2> "$work/gatehouse10k.log" &
gatehouse10k_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN10K_PORT/" >/dev/null && break; sleep 0.1; done
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
routes_document() {
  python3 -c "import json,sys; n=int(sys.argv[1]); print(json.dumps({'format_version': 1,
    'upstreams': [{'name': 'bench', 'targets': [{'target': '127.0.0.1:$UPSTREAM_PORT'}]}],
    'routes': [{'name': f'svc{i}', 'paths': [f'/svc{i}'], 'strip_path': True, 'upstream': 'bench'} for i in range(n)]}))" "$1"
}
routes_document 10000 > "$work/routes10k.json"
curl -fs -X PUT "127.0.0.1:$ADMIN10K_PORT/config" --data-binary @"$work/routes10k.json" >/dev/null
compile10k=$(grep -o 'compile_ms=[0-9]*' "$work/gatehouse10k.log" | tail -1 | cut -d= -f2)
rss1=$(rss_kib "$gatehouse_pid"); rss10k=$(rss_kib "$gatehouse10k_pid")

for url in "$UPSTREAM_PORT/body" "$NGINX_PORT/body" "$PROXY_PORT/body" "$PROXY10K_PORT/svc9999/body"; do
  curl -fs "127.0.0.1:$url" | cmp -s - "$work/upstream/www/body" || { echo "127.0.0.1:$url does not serve the body" >&2; exit 1; }
done

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  for target in "direct:$UPSTREAM_PORT/body" "nginx:$NGINX_PORT/body" "gatehouse:$PROXY_PORT/body" "gatehouse-10k-routes:$PROXY10K_PORT/svc9999/body"; do
    name=${target%%:*}; url=${target#*:}
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency ${headers[@]+"${headers[@]}"} "http://127.0.0.1:$url")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$errors" >> "$results"
    echo "round $round $name: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
  done
done

# Latency at the same request rates for all: a quarter and half of Gatehouse's median maximum,
# so none saturates. GatehouseLoad keeps the rate whatever the latency (open loop, 16
# connections) and measures from each request's planned time; hey's rate limit could not, as
# its workers wait for each answer and its own CPU caps the rate on this machine.
max=$(awk -F'\t' '$2 == "gatehouse" {print $3}' "$results" | sort -n | awk '{a[NR]=$1} END {print int(a[int((NR+1)/2)])}')
fixed="$work/fixed-rate.tsv"
# The proxy under test (nginx's or Gatehouse's) gets CPU 1 to itself; the load generator and the
# upstream share CPU 0. Unpinned, the proxy competes with the load generator for the same two
# cores, and the latency measured is mostly how the scheduler interleaves them.
load=()
pinned=no
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  for pid in $(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")") "$gatehouse_pid"; do taskset -a -p -c 1 "$pid" >/dev/null; done
  for pid in $(cat "$work/upstream/nginx.pid") $(pgrep -P "$(cat "$work/upstream/nginx.pid")"); do taskset -a -p -c 0 "$pid" >/dev/null; done
  load=(taskset -c 0)
  pinned=yes
fi
# How busy the load generator and the upstream kept their core (CPU 0 when pinned): their CPU
# time over the time the load ran (a second of warm-up and the measured seconds). Near 100%, the
# direct baseline queues as well, and latency at that rate says more about the harness than
# about the proxy.
upstream_worker=$(pgrep -P "$(cat "$work/upstream/nginx.pid")" | head -1)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TIMEFORMAT='%U %S'
for round in $(seq "$ROUNDS"); do
  for rate in $((max / 4)) $((max / 2)); do
    for target in "direct:$UPSTREAM_PORT" "nginx:$NGINX_PORT" "gatehouse:$PROXY_PORT"; do
      name=${target%%:*}; port=${target#*:}
      upstream_before=$(cpu_ticks "$upstream_worker")
      { time "${load[@]}" .build/release/GatehouseLoad "$port" /body "$rate" 16 "$SECONDS_EACH" > "$work/load.out"; } 2> "$work/load.time"
      out=$(cat "$work/load.out")
      busy=$(awk -v ticks=$(($(cpu_ticks "$upstream_worker") - upstream_before)) -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_EACH" \
        '{printf "%d", 100 * ($1 + $2 + ticks / hz) / (s + 1.2)}' "$work/load.time")
      p50=$(grep -o 'p50_us=[0-9]*' <<<"$out" | cut -d= -f2)
      p99=$(grep -o 'p99_us=[0-9]*' <<<"$out" | cut -d= -f2)
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rate" "$p50" "$p99" "$busy" >> "$fixed"
      echo "fixed rate $rate round $round $name: $out load_core_busy=$busy%" >&2
    done
  done
done

routes_document 100000 > "$work/routes100k.json"
curl -fs -X PUT "127.0.0.1:$ADMIN10K_PORT/config" --data-binary @"$work/routes100k.json" >/dev/null
compile100k=$(grep -o 'compile_ms=[0-9]*' "$work/gatehouse10k.log" | tail -1 | cut -d= -f2)

# The data plane's own table, apart from the rest of the process: heap kept by the compiled config.
table10k=$(.build/release/GatehouseBench 10000)
table100k=$(.build/release/GatehouseBench 100000)

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$THREADS" "$WORKERS" "$BODY_BYTES" \
  "$compile10k" "$compile100k" "$rss1" "$rss10k" "$table10k" "$table100k" "$fixed" "$pinned" "${REQUEST_HEADERS:-host}" <<'PY'
import statistics, sys
(path, rounds, seconds, connections, threads, workers, body, compile10k, compile100k, rss1, rss10k, table10k, table100k,
 fixed, pinned, request_headers) = sys.argv[1:]
def field(line, name):
    return int(dict(item.split("=") for item in line.split())[name])
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
rows = {}
errors = {}
for line in open(path):
    round_, name, rps, p50, p99, err = (line.rstrip("\n").split("\t") + [""])[:6]
    rows.setdefault(name, []).append((float(rps), ms(p50), ms(p99)))
    if err.strip():
        errors.setdefault(name, []).append(err.strip())
med = {name: tuple(statistics.median(v[i] for v in values) for i in range(3)) for name, values in rows.items()}
fields = "ten browser-like request header fields" if request_headers == "browser" else "requests with Host only"
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, {body}-byte body, {fields}, "
      f"{workers} worker(s) for nginx and Gatehouse; medians.\n")
print("| target | requests/s | p50 | p99 | vs nginx (req/s) | vs direct (req/s) |")
print("|---|---|---|---|---|---|")
for name in ("direct", "nginx", "gatehouse", "gatehouse-10k-routes"):
    rps, p50, p99 = med[name]
    print(f"| {name} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {rps / med['nginx'][0]:.2f}× | {rps / med['direct'][0]:.2f}× |")
added_nginx = med["nginx"][2] - med["direct"][2]
added_gatehouse = med["gatehouse"][2] - med["direct"][2]
print(f"\np99 added over direct, each at its own maximum rate: nginx {added_nginx:.2f} ms, Gatehouse {added_gatehouse:.2f} ms. "
      f"10,000 routes vs one: {med['gatehouse-10k-routes'][0] / med['gatehouse'][0]:.2f}× the throughput.")
at_rate = {}
by_round = {}
for line in open(fixed):
    round_, name, at, p50, p99, busy = line.rstrip("\n").split("\t")
    at_rate.setdefault(int(at), {}).setdefault(name, []).append((int(p50) / 1000, int(p99) / 1000, int(busy)))
    by_round.setdefault((int(at), round_), {})[name] = int(p99) / 1000
where = ("the proxy under test alone on CPU 1, load generator and upstream on CPU 0" if pinned == "yes" else "unpinned")
print(f"\nLatency at fixed rates (GatehouseLoad: open loop, 16 connections, measured from each request's planned time; {where}; medians):\n")
print("| rate | target | p50 | p99 | p99 added over direct | load core busy |")
print("|---|---|---|---|---|---|")
verdicts = []
for at in sorted(at_rate):
    med_at = {name: tuple(statistics.median(v[i] for v in values) for i in range(3)) for name, values in at_rate[at].items()}
    # Added latency is paired: each round's proxy p99 less the direct p99 measured just before it,
    # so drift between rounds does not pass for a difference between the proxies.
    rounds_at = [r for (a, _), r in by_round.items() if a == at]
    added = {name: [r[name] - r["direct"] for r in rounds_at] for name in ("nginx", "gatehouse")}
    for name in ("direct", "nginx", "gatehouse"):
        p50, p99, busy = med_at[name]
        shown = "" if name == "direct" else f"{statistics.median(added[name]):.2f} ms"
        print(f"| {at:,} req/s | {name} | {p50:.2f} ms | {p99:.2f} ms | {shown} | {busy:.0f}% |")
    within = sum(g <= n for g, n in zip(added["gatehouse"], added["nginx"]))
    verdicts.append(f"at {at:,} req/s in {within} of {len(rounds_at)} rounds")
print("\np99 added over direct: the median over the rounds of each round's proxy p99 less that round's direct p99. "
      f"Gatehouse added no more than nginx {', and '.join(verdicts)}.")
print("\nLoad core busy: the load generator's and the upstream's CPU time over the time the load ran. "
      "Near 100%, the direct baseline queues too: the figures at that rate measure the harness as much as the proxy.")
print(f"\nCompiling a snapshot (data plane, `compile_ms` in its log): 10,000 routes {compile10k} ms, 100,000 routes {compile100k} ms. "
      f"RSS: {int(rss1) / 1024:.0f} MiB with one route, {int(rss10k) / 1024:.0f} MiB with 10,000 "
      f"({(int(rss10k) - int(rss1)) * 1024 / 10000:,.0f} bytes per route, control plane and data plane together).")
print(f"\nThe compiled table alone (`GatehouseBench`, heap kept after the snapshot is released): "
      f"{field(table10k, 'bytes_per_route')} bytes per route with 10,000 routes (compiled in {field(table10k, 'compile_ms')} ms), "
      f"{field(table100k, 'bytes_per_route')} with 100,000 (in {field(table100k, 'compile_ms')} ms).")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
