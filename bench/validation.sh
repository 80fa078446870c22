#!/usr/bin/env bash
# The cost of request validation, in one run, alternating: one Gatehouse with four routes to the
# same nginx upstream (1 KiB answers), the same requests to a route with and without a
# request-validation policy:
#   get          — GET ?limit=20&kind=cat&sort=name with X-Request-Tag, no policy
#   get-checked  — the same, its three query parameters and the header checked
#   post         — POST of a 139-byte JSON object, no policy (streamed)
#   post-checked — the same, the body held to its end and checked against an object schema
# Prints requests/s, p50, p99 and the ratio of each checked route to its unchecked twin.
#
#   bench/validation.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), THREADS (1), WORKERS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}

scripts/ensure-packages wrk nginx-light curl python3
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  [ -f "$work/upstream/nginx.pid" ] && kill "$(cat "$work/upstream/nginx.pid")" 2>/dev/null || true
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null && wait "$gatehouse_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Ports of their own: the other benchmarks (and tests beside them) use 18xxx.
UPSTREAM_PORT=${UPSTREAM_PORT:-28080} PROXY_PORT=${PROXY_PORT:-28000} ADMIN_PORT=${ADMIN_PORT:-28001} STATUS_PORT=${STATUS_PORT:-28100}
# The shared upstream, except that a POST gets the body too (nginx answers POST to a file with 405).
mkdir -p "$work/upstream/www" "$work/upstream/logs" "$work/logs"
chmod 755 "$work/upstream" "$work/upstream/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/upstream/www/body"
{ nginx_preamble 1 "$work/upstream"; cat <<NGINX
  open_file_cache max=16;
  server { listen 127.0.0.1:$UPSTREAM_PORT reuseport;
    location / { root $work/upstream/www; try_files /body =404; error_page 405 =200 \$uri; } }
}
NGINX
} > "$work/upstream/nginx.conf"
nginx -c "$work/upstream/nginx.conf" -p "$work/upstream"

.build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level warning \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN_PORT/" >/dev/null && break; sleep 0.1; done
cat > "$work/config.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM_PORT" }] }],
  "routes": [
    { "name": "get", "paths": ["=/get"], "methods": ["GET"], "upstream": "bench" },
    { "name": "get-checked", "paths": ["=/get-checked"], "methods": ["GET"], "upstream": "bench" },
    { "name": "post", "paths": ["=/post"], "methods": ["POST"], "upstream": "bench" },
    { "name": "post-checked", "paths": ["=/post-checked"], "methods": ["POST"], "upstream": "bench" } ],
  "policies": [
    { "name": "get-validation", "type": "request-validation", "route": "get-checked", "config": { "parameters": [
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } },
        { "name": "kind", "in": "query", "required": true, "schema": { "type": "string", "enum": ["cat", "dog"] } },
        { "name": "sort", "in": "query", "schema": { "type": "string", "maxLength": 16 } },
        { "name": "X-Request-Tag", "in": "header", "required": true, "schema": { "type": "string", "pattern": "^[a-z0-9-]+$" } } ] } },
    { "name": "post-validation", "type": "request-validation", "route": "post-checked", "config": { "body": { "required": true,
        "schema": { "type": "object", "required": ["name", "kind"], "additionalProperties": false, "properties": {
          "name": { "type": "string", "minLength": 1, "maxLength": 64 },
          "kind": { "type": "string", "enum": ["cat", "dog"] },
          "age": { "type": "integer", "minimum": 0, "maximum": 40 },
          "tags": { "type": "array", "maxItems": 8, "items": { "type": "string", "maxLength": 16 } },
          "owner": { "type": "object", "required": ["email"], "properties": { "email": { "type": "string", "pattern": "@" } } } } } } } } ] }
JSON
curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/config" --data-binary @"$work/config.json" >/dev/null
BODY='{"name":"Rex the second","kind":"dog","age":7,"tags":["good","loud","brown","old","small","quiet"],"owner":{"email":"someone@example.com"}}'
QUERY='limit=20&kind=cat&sort=name'
for route in get get-checked; do
  curl -fs -H 'X-Request-Tag: bench-1' "127.0.0.1:$PROXY_PORT/$route?$QUERY" | cmp -s - "$work/upstream/www/body" \
    || { echo "/$route does not serve the body" >&2; exit 1; }
done
for route in post post-checked; do
  curl -fs -H 'Content-Type: application/json' --data-binary "$BODY" "127.0.0.1:$PROXY_PORT/$route" | cmp -s - "$work/upstream/www/body" \
    || { echo "/$route does not serve the body" >&2; exit 1; }
done
# The checked routes do check: a wrong request is refused.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Request-Tag: bench-1' "127.0.0.1:$PROXY_PORT/get-checked?kind=bird")" = 400 ] \
  || { echo "/get-checked does not validate" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"name":""}' "127.0.0.1:$PROXY_PORT/post-checked")" = 400 ] \
  || { echo "/post-checked does not validate" >&2; exit 1; }
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  for name in get get-checked post post-checked; do
    case $name in
      get*) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -H 'X-Request-Tag: bench-1' \
        "http://127.0.0.1:$PROXY_PORT/$name?$QUERY") ;;
      post*) out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$work/post.lua" "http://127.0.0.1:$PROXY_PORT/$name") ;;
    esac
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$errors" >> "$results"
    echo "round $round $name: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
  done
done

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$THREADS" "$WORKERS" <<'PY'
import statistics, sys
path, rounds, seconds, connections, threads, workers = sys.argv[1:]
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
rows, errors = {}, {}
for line in open(path):
    _, name, rps, p50, p99, err = (line.rstrip("\n").split("\t") + [""])[:6]
    rows.setdefault(name, []).append((float(rps), ms(p50), ms(p99)))
    if err.strip():
        errors.setdefault(name, []).append(err.strip())
med = {name: tuple(statistics.median(v[i] for v in values) for i in range(3)) for name, values in rows.items()}
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, 1 KiB answers, {workers} Gatehouse worker(s); medians.\n")
print("| route | request-validation | requests/s | p50 | p99 | vs the same route unchecked |")
print("|---|---|---|---|---|---|")
labels = {"get": "none", "get-checked": "3 query parameters + 1 header", "post": "none", "post-checked": "JSON body (139 B, 5 properties, nested)"}
for name in ("get", "get-checked", "post", "post-checked"):
    rps, p50, p99 = med[name]
    twin = name.replace("-checked", "")
    print(f"| /{name} | {labels[name]} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {rps / med[twin][0]:.2f}× |")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
