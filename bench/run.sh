#!/usr/bin/env bash
# Gatehouse against nginx as a plain reverse proxy and against the upstream direct, in one run,
# alternating so that this noisy machine's drift hits all three alike. Prints a Markdown table
# with medians and ratios.
#
#   bench/run.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), THREADS (1), WORKERS (1: nginx worker_processes and
# gatehouse --workers), BODY_BYTES (1024).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
BODY_BYTES=${BODY_BYTES:-1024}

scripts/ensure-packages wrk nginx-light curl python3
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18080 NGINX_PORT=18081 PROXY_PORT=18000 ADMIN_PORT=18001 STATUS_PORT=18100
mkdir -p "$work/www" "$work/logs"
head -c "$BODY_BYTES" /dev/zero | tr '\0' 'x' > "$work/www/body"
cat > "$work/nginx.conf" <<NGINX
worker_processes $WORKERS;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT reuseport;
    location / { root $work/www; try_files /body =404; }
  }
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
nginx -c "$work/nginx.conf" -p "$work"

.build/release/gatehouse serve --db "$work/gatehouse.db" --workers "$WORKERS" --log-level warning \
  --proxy-listen 127.0.0.1:$PROXY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$STATUS_PORT/status/ready" >/dev/null && break; sleep 0.1; done
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/upstreams" -d "{\"name\":\"bench\",\"targets\":[{\"target\":\"127.0.0.1:$UPSTREAM_PORT\"}]}" >/dev/null
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/routes" -d '{"name":"bench","paths":["/"],"upstream":"bench"}' >/dev/null
for port in $UPSTREAM_PORT $NGINX_PORT $PROXY_PORT; do
  curl -fs "127.0.0.1:$port/body" | cmp -s - "$work/www/body" || { echo "port $port does not serve the body" >&2; exit 1; }
done

results="$work/results.tsv"
for round in $(seq "$ROUNDS"); do
  for target in "direct:$UPSTREAM_PORT" "nginx:$NGINX_PORT" "gatehouse:$PROXY_PORT"; do
    name=${target%%:*}; port=${target##*:}
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$port/body")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p99" "$errors" >> "$results"
    echo "round $round $name: $rps req/s, p99 $p99 $errors" >&2
  done
done

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$THREADS" "$WORKERS" "$BODY_BYTES" <<'PY'
import statistics, sys
path, rounds, seconds, connections, threads, workers, body = sys.argv[1:]
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
rows = {}
errors = {}
for line in open(path):
    round_, name, rps, p99, err = (line.rstrip("\n").split("\t") + [""])[:5]
    rows.setdefault(name, []).append((float(rps), ms(p99)))
    if err.strip():
        errors.setdefault(name, []).append(err.strip())
med = {name: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v)) for name, v in rows.items()}
print(f"wrk -t{threads} -c{connections}, {rounds} alternating rounds of {seconds} s, {body}-byte body, "
      f"{workers} worker(s) for nginx and Gatehouse; medians.\n")
print("| target | requests/s | p99 latency | vs nginx (req/s) | vs direct (req/s) |")
print("|---|---|---|---|---|")
for name in ("direct", "nginx", "gatehouse"):
    rps, p99 = med[name]
    print(f"| {name} | {rps:,.0f} | {p99:.2f} ms | {rps / med['nginx'][0]:.2f}× | {rps / med['direct'][0]:.2f}× |")
for name, errs in errors.items():
    print(f"\n{name}: {'; '.join(errs)}")
PY
