#!/usr/bin/env python3
"""History storage, run by bench/history.sh: what versions cost on disk and to read back.

A control plane (no data planes, so only the store's work is timed) gets 10,000 routes in one
PUT /config, then CHANGES single-route changes (PATCH of one route's tags, spread over the
routes). Reported: the database's size on disk while running (db + -wal + -shm) and after a
clean stop, the median time of a single-route write, and the latency of GET /versions/{n} after
a restart, for the oldest version (the 10,000 routes as first committed), one in the middle and
the newest, next to GET /config (the current document, served from memory) as the floor.

    bench/history.py BINARY WORK [ROUTES] [CHANGES] [READS]
"""
import atexit, json, os, re, signal, statistics, subprocess, sys, time, urllib.request

BINARY, WORK = sys.argv[1], sys.argv[2]
ROUTES = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
CHANGES = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000
READS = int(sys.argv[5]) if len(sys.argv) > 5 else 20
TOKEN = "bench-history-token-0123456789"
DB = os.path.join(WORK, "history.db")


def call(method, port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status, response.read(), response.headers


def start(log):
    process = subprocess.Popen(
        [BINARY, "control-plane", "--db", DB, "--admin-listen", "127.0.0.1:0", "--cluster-listen", "127.0.0.1:0",
         "--cluster-token", TOKEN] + sys.argv[6:],
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    atexit.register(lambda: process.poll() is None and process.kill())
    end = time.time() + 120
    while time.time() < end:
        match = re.search(r"address=127\.0\.0\.1:(\d+) \[GatehouseCLI\] admin listening", open(log).read())
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            raise SystemExit(f"control plane exited {process.returncode}:\n{open(log).read()}")
        time.sleep(0.02)
    raise SystemExit("the control plane did not start")


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def on_disk():
    return sum(os.path.getsize(DB + suffix) for suffix in ("", "-wal", "-shm") if os.path.exists(DB + suffix))


def mb(size):
    return f"{size / 1_000_000:.1f} MB"


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


process, port = start(os.path.join(WORK, "first.log"))
document = {"format_version": 1, "upstreams": [{"name": "bench", "targets": [{"target": "127.0.0.1:9"}]}],
            "routes": [{"name": f"svc{i}", "hosts": [f"svc{i}.example.com"], "paths": [f"/svc{i}", f"/v2/svc{i}/{{id}}"],
                        "methods": ["GET", "POST"], "strip_path": True, "tags": ["bench"], "upstream": "bench"}
                       for i in range(ROUTES)]}
began = time.perf_counter()
status, _, headers = call("PUT", port, "/config", document)
first = int(headers["Gatehouse-Config-Version"])
put_seconds = time.perf_counter() - began
_, body, _ = call("GET", port, f"/versions/{first}")
document_bytes = len(body)
writes = []
last = first
for change in range(CHANGES):
    route = f"svc{(change * 7919) % ROUTES}"
    began = time.perf_counter()
    _, _, headers = call("PATCH", port, f"/routes/{route}", {"tags": ["bench", f"change-{change}"]})
    writes.append(time.perf_counter() - began)
    last = int(headers["Gatehouse-Config-Version"])
running = on_disk()
stop(process)
stopped = on_disk()

process, port = start(os.path.join(WORK, "second.log"))
reads = {}
for label, version in (("oldest", first), ("middle", (first + last) // 2), ("newest", last)):
    times = []
    for _ in range(READS):
        began = time.perf_counter()
        call("GET", port, f"/versions/{version}")
        times.append(time.perf_counter() - began)
    reads[f"GET /versions/{version} ({label})"] = times
times = []
for _ in range(READS):
    began = time.perf_counter()
    call("GET", port, "/config")
    times.append(time.perf_counter() - began)
reads["GET /config (current, from memory)"] = times
stop(process)

print(f"{ROUTES:,} routes in one PUT /config ({put_seconds:.1f} s), then {CHANGES:,} single-route PATCHes; "
      f"the document is {document_bytes / 1_000_000:.1f} MB as GET /versions/n returns it.\n")
print("| measure | value |")
print("|---|---|")
print(f"| on disk while running (db + wal + shm) | {mb(running)} |")
print(f"| on disk after a clean stop | {mb(stopped)} |")
print(f"| single-route write, median / p90 | {ms(statistics.median(writes))} / {ms(sorted(writes)[int(len(writes) * 0.9)])} |")
for label, times in reads.items():
    times.sort()
    print(f"| {label}, median / max of {READS} | {ms(statistics.median(times))} / {ms(times[-1])} |")
