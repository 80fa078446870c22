#!/usr/bin/env bash
# The cost of policies, in one run, alternating: one Gatehouse with three routes to the same
# nginx upstream (1 KiB body):
#   plain    — no policy
#   policies — cors + key-auth + a local rate-limit (limit never reached)
#   redis    — key-auth + a rate-limit counted in a real redis-server
#   jwt      — a jwt policy (RS256, 2048-bit key; the same token on every request, so a cache hit)
# wrk sends an API key, an RS256 bearer token and an allowed Origin to every route. Prints requests/s, p50, p99 and the
# ratios to the plain route, and Redis round trips per request (from INFO commandstats).
#
#   bench/policies.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
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

scripts/ensure-packages wrk nginx-light curl python3 redis-server redis-tools openssl
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  stop_upstream "$work"
  # Gatehouse first: Redis going away under it would be logged as an outage.
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null && wait "$gatehouse_pid" 2>/dev/null || true
  [ -n "${redis_pid:-}" ] && kill -9 "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080 PROXY_PORT=18000 ADMIN_PORT=18001 STATUS_PORT=18100 REDIS_PORT=18379
KEY=bench-key-0123456789abcdef ORIGIN=https://www.example.com
start_upstream "$work" "$UPSTREAM_PORT" 1024
# An RS256 key as an IdP would hold it, its public JWK, and a token signed with it (openssl only).
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
openssl genrsa -out "$work/jwt.key" 2048 2>/dev/null
JWT_N=$(python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("="))' \
  "$(openssl rsa -in "$work/jwt.key" -noout -modulus | cut -d= -f2)")
JWT_SIGNED="$(printf '{"alg":"RS256","kid":"bench"}' | b64url).$(printf '{"sub":"bench","exp":%s}' $(($(date +%s) + 86400)) | b64url)"
TOKEN="$JWT_SIGNED.$(printf '%s' "$JWT_SIGNED" | openssl dgst -sha256 -sign "$work/jwt.key" | b64url)"
redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!

.build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level warning \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN_PORT/" >/dev/null && break; sleep 0.1; done
cat > "$work/config.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM_PORT" }] }],
  "routes": [
    { "name": "plain", "paths": ["/plain"], "strip_path": true, "upstream": "bench" },
    { "name": "policies", "paths": ["/policies"], "strip_path": true, "upstream": "bench" },
    { "name": "redis", "paths": ["/redis"], "strip_path": true, "upstream": "bench" },
    { "name": "jwt", "paths": ["/jwt"], "strip_path": true, "upstream": "bench" } ],
  "consumers": [{ "name": "bench", "credentials": [{ "type": "key-auth", "key": "$KEY" }] }],
  "policies": [
    { "name": "cors", "type": "cors", "route": "policies", "config": { "allow_origins": ["$ORIGIN"] } },
    { "name": "auth-policies", "type": "key-auth", "route": "policies" },
    { "name": "limit-local", "type": "rate-limit", "route": "policies", "config": { "limit": 2000000000, "window": "1h" } },
    { "name": "auth-redis", "type": "key-auth", "route": "redis" },
    { "name": "limit-redis", "type": "rate-limit", "route": "redis",
      "config": { "limit": 2000000000, "window": "1h", "backend": "redis", "redis_url": "redis://127.0.0.1:$REDIS_PORT" } },
    { "name": "tokens", "type": "jwt", "route": "jwt",
      "config": { "algorithms": ["RS256"], "keys": [{ "kty": "RSA", "kid": "bench", "alg": "RS256", "n": "$JWT_N", "e": "AQAB" }] } } ] }
JSON
curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/config" --data-binary @"$work/config.json" >/dev/null
for route in plain policies redis jwt; do
  curl -fs -H "apikey: $KEY" -H "Authorization: Bearer $TOKEN" -H "Origin: $ORIGIN" "127.0.0.1:$PROXY_PORT/$route/body" | cmp -s - "$work/upstream/www/body" \
    || { echo "/$route does not serve the body" >&2; exit 1; }
done
curl -fs -D - -o /dev/null -H "apikey: $KEY" -H "Origin: $ORIGIN" "127.0.0.1:$PROXY_PORT/policies/body" | grep -qi '^ratelimit-remaining' \
  || { echo "/policies is not rate limited" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$PROXY_PORT/jwt/body")" = 401 ] || { echo "/jwt does not check tokens" >&2; exit 1; }
redis-cli -p $REDIS_PORT CONFIG RESETSTAT >/dev/null

results="$work/results.tsv"
redis_requests=0
for round in $(seq "$ROUNDS"); do
  for name in plain policies redis jwt; do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -H "apikey: $KEY" -H "Authorization: Bearer $TOKEN" -H "Origin: $ORIGIN" \
      "http://127.0.0.1:$PROXY_PORT/$name/body")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    [ "$name" = redis ] && redis_requests=$((redis_requests + total))
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$errors" >> "$results"
    echo "round $round $name: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
  done
done
# Round trips: EVALSHA calls (the INCR and PEXPIRE inside the script run in Redis, no trip of their own).
redis_calls=$(redis-cli -p $REDIS_PORT INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_evalsha:/ {print $3}')
redis_all=$(redis-cli -p $REDIS_PORT INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ {printf "%s%s=%s", sep, substr($1, 9), $3; sep=", "}')

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$THREADS" "$WORKERS" "$redis_requests" "$redis_calls" "$redis_all" <<'PY'
import statistics, sys
path, rounds, seconds, connections, threads, workers, redis_requests, redis_calls, redis_all = sys.argv[1:]
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
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, 1 KiB body, {workers} Gatehouse worker(s); medians.\n")
print("| route | policies | requests/s | p50 | p99 | vs no policies |")
print("|---|---|---|---|---|---|")
labels = {"plain": "none", "policies": "cors + key-auth + local rate-limit", "redis": "key-auth + redis rate-limit",
          "jwt": "jwt (RS256, cached)"}
for name in ("plain", "policies", "redis", "jwt"):
    rps, p50, p99 = med[name]
    print(f"| /{name} | {labels[name]} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {rps / med['plain'][0]:.2f}× |")
print(f"\nRedis round trips per request on /redis: {int(redis_calls) / max(1, int(redis_requests)):.3f} "
      f"({int(redis_calls):,} EVALSHA for {int(redis_requests):,} requests; all commands seen: {redis_all}).")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
