#!/usr/bin/env bash
# The token policies against a real identity provider (django-oauth-toolkit, Tests/Fixtures/idp/idp.py,
# in the virtualenv scripts/test makes), in one run:
#
#   1. cost, alternating rounds: /plain (no policy), /jwt (RS256, keys from the provider's JWKS;
#      one token, so cache hits), /introspect (oauth2-introspection; one token, cache hits);
#   2. the flood that sank the seed: wrk at full speed for FLOOD_SECONDS with 200 distinct valid
#      tokens; the provider counts its introspection calls (at most 200 per max_ttl window);
#   3. 1,000 concurrent connections with one new token, the provider answering after 1 s: one call;
#   4. the provider killed: the 200 cached tokens keep working past max_ttl (stale_if_error) and a
#      new token gets 503 within the timeout.
#
#   bench/identity.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), THREADS (1), WORKERS (1), FLOOD_SECONDS (60).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
FLOOD_SECONDS=${FLOOD_SECONDS:-60}

scripts/ensure-packages wrk nginx-light curl python3
[ -x .build/idp/bin/python ] || { echo "no .build/idp: run scripts/test once (it makes the provider's virtualenv)" >&2; exit 1; }
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  stop_upstream "$work"
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null && wait "$gatehouse_pid" 2>/dev/null || true
  [ -n "${idp_pid:-}" ] && kill -9 "$idp_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080 PROXY_PORT=18000 ADMIN_PORT=18001 STATUS_PORT=18100
# The proxy pinned alone to CPU 1; wrk, nginx and the provider on CPU 0 (where taskset works).
taskset -c 0 true 2>/dev/null && PIN_PROXY="taskset -c 1" PIN_LOAD="taskset -c 0" || PIN_PROXY="" PIN_LOAD=""
start_upstream "$work" "$UPSTREAM_PORT" 1024
[ -n "$PIN_LOAD" ] && for pid in $(pgrep -f "nginx.*$work/upstream"); do taskset -pc 0 "$pid" >/dev/null; done

$PIN_LOAD .build/idp/bin/python Tests/Fixtures/idp/idp.py --db "$work/idp.db" --client-id bench-client --client-secret bench-client-secret \
  --resource-id gatehouse --resource-secret gatehouse-secret > "$work/idp.out" 2> "$work/idp.err" &
idp_pid=$!
for _ in $(seq 600); do grep -q '^listening' "$work/idp.out" 2>/dev/null && break; sleep 0.1; done
IDP="http://$(awk '/^listening/ {print $2}' "$work/idp.out")"
[ "$IDP" != "http://" ] || { echo "the provider did not start: $(cat "$work/idp.err")" >&2; exit 1; }
idp_post() { curl -fs -X POST "$IDP$1" "${@:2}"; }
introspections() { curl -fs "$IDP/test/introspections" | python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])'; }

$PIN_PROXY .build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level error \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN_PORT/" >/dev/null && break; sleep 0.1; done
cat > "$work/config.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM_PORT" }] }],
  "routes": [
    { "name": "plain", "paths": ["/plain"], "strip_path": true, "upstream": "bench" },
    { "name": "jwt", "paths": ["/jwt"], "strip_path": true, "upstream": "bench" },
    { "name": "introspect", "paths": ["/introspect"], "strip_path": true, "upstream": "bench" } ],
  "policies": [
    { "name": "tokens", "type": "jwt", "route": "jwt",
      "config": { "algorithms": ["RS256"], "jwks_uri": "$IDP/.well-known/jwks.json", "issuers": ["$IDP"] } },
    { "name": "introspection", "type": "oauth2-introspection", "route": "introspect",
      "config": { "introspection_url": "$IDP/o/introspect/", "client_id": "gatehouse", "client_secret": "gatehouse-secret",
                  "max_ttl": "${FLOOD_SECONDS}s", "stale_if_error": "1h", "timeout": "2s" } } ] }
JSON
curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/config" --data-binary @"$work/config.json" >/dev/null

JWT=$(curl -fs -X POST "$IDP/test/jwt" -H 'content-type: application/json' \
  -d "{\"sub\": \"bench\", \"exp\": $(($(date +%s) + 86400))}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
OPAQUE=$(idp_post /o/token/ -u bench-client:bench-client-secret -d grant_type=client_credentials -d scope=read \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
for route in plain jwt introspect; do
  token=$([ "$route" = jwt ] && echo "$JWT" || echo "$OPAQUE")
  for _ in $(seq 50); do
    curl -fs -H "Authorization: Bearer $token" "127.0.0.1:$PROXY_PORT/$route/body" | cmp -s - "$work/upstream/www/body" && break
    sleep 0.1  # the first JWKS fetch
  done
  curl -fs -H "Authorization: Bearer $token" "127.0.0.1:$PROXY_PORT/$route/body" | cmp -s - "$work/upstream/www/body" \
    || { echo "/$route does not serve the body" >&2; exit 1; }
done
for route in jwt introspect; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$PROXY_PORT/$route/body")" = 401 ] || { echo "/$route does not check tokens" >&2; exit 1; }
done

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  # Each round in the other order, so no route always follows the same one.
  order="plain jwt introspect"
  [ $((round % 2)) -eq 0 ] && order="introspect jwt plain"
  for name in $order; do
    token=$([ "$name" = jwt ] && echo "$JWT" || echo "$OPAQUE")
    out=$($PIN_LOAD wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$PROXY_PORT/$name/body")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$errors" >> "$results"
    echo "round $round $name: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
  done
done

# 2. The flood: 200 tokens, each request the next one.
idp_post /test/tokens -d count=200 -d scope=read | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)["tokens"]))' > "$work/tokens"
cat > "$work/tokens.lua" <<LUA
local tokens, n = {}, 0
for line in io.lines("$work/tokens") do tokens[#tokens + 1] = line end
request = function()
  n = n + 1
  return wrk.format("GET", "/introspect/body", { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] })
end
LUA
idp_post /test/introspections/reset >/dev/null
flood=$($PIN_LOAD wrk -t"$THREADS" -c"$CONNECTIONS" -d"${FLOOD_SECONDS}s" -s "$work/tokens.lua" "http://127.0.0.1:$PROXY_PORT/")
flood_rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$flood")
flood_total=$(awk '/requests in/ {print $1}' <<<"$flood")
flood_errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$flood" | tr '\n' ' ')
flood_calls=$(introspections)
echo "flood: $flood_total requests at $flood_rps req/s over 200 tokens, $flood_calls introspection calls $flood_errors" >&2

# 3. One new token on 1,000 connections at once, the provider slow to answer.
NEW=$(idp_post /test/tokens -d count=1 -d scope=read | python3 -c 'import json, sys; print(json.load(sys.stdin)["tokens"][0])')
idp_post /test/delay -d ms=1000 >/dev/null
idp_post /test/introspections/reset >/dev/null
burst=$($PIN_LOAD wrk -t"$THREADS" -c1000 -d5s -H "Authorization: Bearer $NEW" "http://127.0.0.1:$PROXY_PORT/introspect/body")
burst_total=$(awk '/requests in/ {print $1}' <<<"$burst")
burst_errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$burst" | tr '\n' ' ')
burst_calls=$(introspections)
idp_post /test/delay -d ms=0 >/dev/null
echo "burst: $burst_total requests on 1000 connections with one new token, $burst_calls introspection calls $burst_errors" >&2

# 4. The provider killed, past max_ttl: cached tokens from stale_if_error, a new one 503 in time.
kill -9 "$idp_pid"; wait "$idp_pid" 2>/dev/null || true; idp_pid=
sleep $((FLOOD_SECONDS + 1))  # the cached answers are past max_ttl: only stale_if_error serves them now
down=$($PIN_LOAD wrk -t"$THREADS" -c"$CONNECTIONS" -d5s -s "$work/tokens.lua" "http://127.0.0.1:$PROXY_PORT/")
down_total=$(awk '/requests in/ {print $1}' <<<"$down")
down_errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$down" | tr '\n' ' ')
down_new=$(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' -H "Authorization: Bearer never-seen-token" "127.0.0.1:$PROXY_PORT/introspect/body")
echo "provider down: $down_total requests with cached tokens $down_errors; a new token: $down_new" >&2

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$THREADS" "$WORKERS" "$FLOOD_SECONDS" \
  "$flood_total" "$flood_rps" "$flood_calls" "$flood_errors" "$burst_total" "$burst_calls" "$burst_errors" \
  "$down_total" "$down_errors" "$down_new" <<'PY'
import statistics, sys
(path, rounds, seconds, connections, threads, workers, flood_seconds, flood_total, flood_rps, flood_calls, flood_errors,
 burst_total, burst_calls, burst_errors, down_total, down_errors, down_new) = sys.argv[1:]
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
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, 1 KiB body, {workers} Gatehouse worker(s) pinned to CPU 1, the load on CPU 0, the order alternating; medians.\n")
print("| route | policy | requests/s | p50 | p99 | vs no policy |")
print("|---|---|---|---|---|---|")
labels = {"plain": "none", "jwt": "jwt (RS256, JWKS from the provider; cache hits)",
          "introspect": "oauth2-introspection (django-oauth-toolkit; cache hits)"}
for name in ("plain", "jwt", "introspect"):
    rps, p50, p99 = med[name]
    print(f"| /{name} | {labels[name]} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {rps / med['plain'][0]:.2f}× |")
print(f"\n- Flood: {int(flood_total):,} requests in {flood_seconds} s ({float(flood_rps):,.0f}/s) over 200 distinct valid tokens: "
      f"**{flood_calls} introspection calls** counted by the provider (max_ttl {flood_seconds} s). {flood_errors}")
print(f"- Burst: 1,000 connections with one new token, the provider answering after 1 s: {int(burst_total):,} requests, "
      f"**{burst_calls} introspection call(s)**. {burst_errors}")
print(f"- Provider killed, past max_ttl: {int(down_total):,} requests with the cached tokens {down_errors or 'all answered 200'}; "
      f"a new token: {down_new}.")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
