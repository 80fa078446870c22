#!/usr/bin/env bash
# TLS termination: Gatehouse's TLS listener against nginx terminating TLS, in one run, alternating
# rounds, with the same certificate (ECDSA P-256), protocols (TLS 1.2 and 1.3) and upstream.
# wrk keeps its connections alive (one handshake per connection), so this measures the proxying
# of requests over TLS; a second part measures new connections (a handshake per request), and a
# third replaces the certificate every second under that load and counts failed handshakes.
#
#   bench/tls.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 10 s each)
#
# Environment: CONNECTIONS (32), BODY_BYTES (1024). One worker each; the proxies are pinned to
# CPU 1, wrk and the upstream to CPU 0. CPU per request is the proxy process's user + system time
# (/proc) over the requests it served.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/upstream.sh
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
BODY_BYTES=${BODY_BYTES:-1024}

scripts/ensure-packages wrk nginx-light curl python3 openssl
swift build -c release --product gatehouse >&2

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  stop_upstream "$work"
  [ -n "${gatehouse_pid:-}" ] && kill "$gatehouse_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

UPSTREAM_PORT=18280 NGINX_PORT=18281 TLS_PORT=18243 PROXY_PORT=18200 ADMIN_PORT=18201 STATUS_PORT=18202
mkdir -p "$work/logs"
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
for name in one two; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $name.key -out $name.csr -subj "/CN=bench.test $name" 2>/dev/null
  printf 'subjectAltName=DNS:bench.test\n' > san.ext
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $name.pem -days 2 -extfile san.ext 2>/dev/null
  cat $name.pem ca.pem > $name.chain.pem
done
cd - >/dev/null

start_upstream "$work" "$UPSTREAM_PORT" "$BODY_BYTES"
{ nginx_preamble 1 "$work"; cat <<NGINX
  upstream backend { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl reuseport;
    ssl_certificate $work/one.chain.pem;
    ssl_certificate_key $work/one.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;
    ssl_session_cache off;
    ssl_session_tickets off;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
NGINX
} > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"

export GATEHOUSE_SECRET_KEY=$(openssl rand -hex 32)
.build/release/gatehouse serve --db "$work/gatehouse.db" --workers 1 --log-level warning --proxy-listen 127.0.0.1:$PROXY_PORT \
  --proxy-tls-listen 127.0.0.1:$TLS_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --status-listen 127.0.0.1:$STATUS_PORT &
gatehouse_pid=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$ADMIN_PORT/" >/dev/null && break; sleep 0.1; done
certificate() {
  python3 -c "import json,sys; print(json.dumps({'cert': open(sys.argv[1]).read(), 'key': open(sys.argv[2]).read(), 'default': True}))" "$work/$1.chain.pem" "$work/$1.key"
}
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/upstreams" -d "{\"name\":\"bench\",\"targets\":[{\"target\":\"127.0.0.1:$UPSTREAM_PORT\"}]}" >/dev/null
curl -fs -X POST "127.0.0.1:$ADMIN_PORT/routes" -d '{"name":"bench","paths":["/"],"upstream":"bench"}' >/dev/null
certificate one > "$work/one.json"; certificate two > "$work/two.json"
curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/certificates/bench" --data-binary @"$work/one.json" >/dev/null
for _ in $(seq 100); do curl -fs --cacert "$work/ca.pem" --resolve "bench.test:$TLS_PORT:127.0.0.1" "https://bench.test:$TLS_PORT/body" >/dev/null && break; sleep 0.1; done
for port in $NGINX_PORT $TLS_PORT; do
  curl -fs --cacert "$work/ca.pem" --resolve "bench.test:$port:127.0.0.1" "https://bench.test:$port/body" | cmp -s - "$work/upstream/www/body" \
    || { echo "https://bench.test:$port does not serve the body" >&2; exit 1; }
done

load=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  for pid in $(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")") "$gatehouse_pid"; do taskset -a -p -c 1 "$pid" >/dev/null; done
  for pid in $(cat "$work/upstream/nginx.pid") $(pgrep -P "$(cat "$work/upstream/nginx.pid")"); do taskset -a -p -c 0 "$pid" >/dev/null; done
  load=(taskset -c 0)
fi
# The process that does the proxying: nginx's worker, or gatehouse.
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk sends SNI from the URL's host; the name resolves through /etc/hosts, so the URL names
# 127.0.0.1 and a Host header carries the name (the certificate is not verified by wrk).
results="$work/results.tsv"
run() {  # run ROUND MODE NAME PORT PID [wrk args...]
  local round=$1 mode=$2 name=$3 port=$4 pid=$5; shift 5
  local before after out rps p50 p99 errors
  before=$(cpu_ticks "$pid")
  out=$("${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$@" "https://127.0.0.1:$port/body")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$name" "$rps" "$p50" "$p99" "$((after - before))" "$errors" >> "$results"
  echo "round $round $mode $name: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
}
for round in $(seq "$ROUNDS"); do
  run "$round" keep-alive nginx $NGINX_PORT "$nginx_worker" -H "Host: bench.test"
  run "$round" keep-alive gatehouse $TLS_PORT "$gatehouse_pid" -H "Host: bench.test"
done
for round in $(seq "$ROUNDS"); do
  run "$round" handshake-per-request nginx $NGINX_PORT "$nginx_worker" -H "Host: bench.test" -H "Connection: close"
  run "$round" handshake-per-request gatehouse $TLS_PORT "$gatehouse_pid" -H "Host: bench.test" -H "Connection: close"
done

# The certificate replaced every second while every request makes a new handshake.
swaps=0
(
  while :; do
    for name in two one; do
      curl -fs -X PUT "127.0.0.1:$ADMIN_PORT/certificates/bench" --data-binary @"$work/$name.json" >/dev/null || echo "swap failed" >&2
      sleep 1
    done
  done
) &
swapper=$!
swap_out=$("${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -H "Host: bench.test" -H "Connection: close" "https://127.0.0.1:$TLS_PORT/body")
kill "$swapper"; wait "$swapper" 2>/dev/null || true
swaps=$(curl -fs "127.0.0.1:$ADMIN_PORT/versions?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['data'][0]['version'] - 3)")
swap_requests=$(awk '/requests in/ {print $1}' <<<"$swap_out")
swap_errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$swap_out" | tr '\n' ' ')

python3 - "$results" "$ROUNDS" "$SECONDS_EACH" "$CONNECTIONS" "$BODY_BYTES" "$(getconf CLK_TCK)" "$swaps" "$swap_requests" "$swap_errors" <<'PY'
import statistics, sys
path, rounds, seconds, connections, body, hz, swaps, swap_requests, swap_errors = sys.argv[1:]
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1), ("s", 1000)):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return float(text[: -len(unit)]) * factor
    return float("nan")
rows, errors = {}, {}
for line in open(path):
    round_, mode, name, rps, p50, p99, ticks, err = (line.rstrip("\n").split("\t") + [""])[:8]
    cpu_us = int(ticks) / int(hz) * 1e6 / (float(rps) * int(seconds))
    rows.setdefault((mode, name), []).append((float(rps), ms(p50), ms(p99), cpu_us))
    if err.strip():
        errors.setdefault((mode, name), []).append(err.strip())
print(f"wrk -t1 -c{connections} over TLS 1.3 (ECDSA P-256), {rounds} alternating rounds of {seconds} s, {body}-byte body, "
      "one worker each, the proxy alone on CPU 1; medians. CPU per request: the proxy process's user + system time.\n")
print("| mode | proxy | requests/s | p50 | p99 | CPU per request | vs nginx (req/s) |")
print("|---|---|---|---|---|---|---|")
for mode in ("keep-alive", "handshake-per-request"):
    med = {name: tuple(statistics.median(v[i] for v in rows[(mode, name)]) for i in range(4)) for name in ("nginx", "gatehouse")}
    for name in ("nginx", "gatehouse"):
        rps, p50, p99, cpu = med[name]
        print(f"| {mode} | {name} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {cpu:.1f} µs | {rps / med['nginx'][0]:.2f}× |")
print(f"\nCertificate replaced {swaps} times during {seconds} s of new connections ({swap_requests} requests, each its own handshake): "
      f"{'no errors' if not swap_errors.strip() else swap_errors}.")
for key, errs in errors.items():
    print(f"\n{key[0]} {key[1]}: {'; '.join(errs)}")
PY
