#!/usr/bin/env bash
# The cost of the access and transform policies, in one run, alternating: one Gatehouse with
# three routes to the same nginx upstream (1 KiB body):
#   plain   — no policy
#   keyauth — key-auth only
#   access  — ip-restriction (allow 127.0.0.0/8, deny a /24) + key-auth + acl (allow a group)
#             + request-transformer (remove, rename, set with $(consumer.name) and $(path.x), add)
#             + response-transformer (remove, set, add)
# wrk sends an API key to every route. Prints requests/s, p50, p99 and the ratios to the plain
# and to the key-auth route (what the four policies add on top of authentication).
#
#   bench/access.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
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
  stop_upstream "$work"
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null && wait "$gatehouse_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080 PROXY_PORT=18000 ADMIN_PORT=18001 STATUS_PORT=18100
KEY=bench-key-0123456789abcdef
start_upstream "$work" "$UPSTREAM_PORT" 1024

.build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level warning \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN_PORT/" >/dev/null && break; sleep 0.1; done
cat > "$work/config.json" <<JSON
{ "format_version": 1,
  "upstreams": [{ "name": "bench", "targets": [{ "target": "127.0.0.1:$UPSTREAM_PORT" }] }],
  "routes": [
    { "name": "plain", "paths": ["/plain"], "strip_path": true, "upstream": "bench" },
    { "name": "keyauth", "paths": ["/keyauth"], "strip_path": true, "upstream": "bench" },
    { "name": "access", "paths": ["/access/{file}"], "upstream_path": "/{file}", "upstream": "bench" } ],
  "consumers": [{ "name": "bench", "groups": ["staff"], "credentials": [{ "type": "key-auth", "key": "$KEY" }] }],
  "policies": [
    { "name": "auth-keyauth", "type": "key-auth", "route": "keyauth" },
    { "name": "ips", "type": "ip-restriction", "route": "access", "config": { "allow": ["127.0.0.0/8", "::1"], "deny": ["127.0.66.0/24"] } },
    { "name": "auth-access", "type": "key-auth", "route": "access" },
    { "name": "staff", "type": "acl", "route": "access", "config": { "allow": ["staff", "admins"] } },
    { "name": "reshape", "type": "request-transformer", "route": "access",
      "config": { "remove": { "headers": ["x-debug"] }, "rename": { "headers": { "x-old": "x-new" } },
                  "set": { "headers": { "x-user": "\$(consumer.name)", "x-file": "\$(path.file)" } }, "add": { "headers": { "x-source": "gateway" } } } },
    { "name": "answer", "type": "response-transformer", "route": "access",
      "config": { "remove": { "headers": ["server"] }, "set": { "headers": { "cache-control": "no-store" } }, "add": { "headers": { "x-served-by": "\$(route.name)" } } } } ] }
JSON
curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/config" --data-binary @"$work/config.json" >/dev/null
for route in plain keyauth access; do
  curl -fs -H "apikey: $KEY" "127.0.0.1:$PROXY_PORT/$route/body" | cmp -s - "$work/upstream/www/body" \
    || { echo "/$route does not serve the body" >&2; exit 1; }
done
curl -fs -D - -o /dev/null -H "apikey: $KEY" "127.0.0.1:$PROXY_PORT/access/body" | grep -qi '^x-served-by: access' \
  || { echo "/access is not transformed" >&2; exit 1; }

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  for name in plain keyauth access; do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -H "apikey: $KEY" "http://127.0.0.1:$PROXY_PORT/$name/body")
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
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, 1 KiB body, {workers} Gatehouse worker(s); medians.\n")
print("| route | policies | requests/s | p50 | p99 | vs none | vs key-auth |")
print("|---|---|---|---|---|---|---|")
labels = {"plain": "none", "keyauth": "key-auth", "access": "ip-restriction + key-auth + acl + request- and response-transformer"}
for name in ("plain", "keyauth", "access"):
    rps, p50, p99 = med[name]
    print(f"| /{name} | {labels[name]} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {rps / med['plain'][0]:.2f}× | {rps / med['keyauth'][0]:.2f}× |")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
