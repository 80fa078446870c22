#!/usr/bin/env python3
"""Zero-downtime measurements for Gatehouse, printed as Markdown (see docs/benchmarks.md).

1. Churn: `hey` at about half of Gatehouse's maximum rate, in windows that alternate between
   steady and 10 config changes per second (route adds, route deletes, policy edits) going to
   the admin API, so that the machine's drift hits both phases alike. Reports socket errors,
   unexpected statuses, and the median p99 with churn over the median p99 without.
2. Propagation: with 10,000 routes, the time from an admin write's acknowledgement to the first
   request the new route serves, and the admin write latency itself.
3. Upgrade: `deploy/upgrade.sh` replaces the process under the same load; errors must be zero.

Run by bench/zero-downtime.sh, which builds the release binary and installs the tools.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build/release/gatehouse")
UPSTREAM, PROXY, ADMIN, STATUS = 18280, 18200, 18201, 18300
CHURN_SECONDS = int(os.environ.get("CHURN_SECONDS", "60"))
WINDOW_SECONDS = int(os.environ.get("WINDOW_SECONDS", "10"))
# CHURN_ONLY=1: the churn rounds alone, without the propagation and upgrade parts.
CHURN_ONLY = os.environ.get("CHURN_ONLY") == "1"


def call(method, port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, None


def upstream(command, work):
    """The upstream every benchmark uses (bench/upstream.sh): nginx answering with 1 KiB."""
    script = f'. "{ROOT}/bench/upstream.sh" && {command} "$1" "$2" 1024'
    subprocess.run(["bash", "-c", script, "upstream", work, str(UPSTREAM)], check=True)


def start_gatehouse(work, binary=BINARY):
    args = [binary, "serve", "--db", f"{work}/gatehouse.db", "--log-level", "warning",
            "--proxy-listen", f"127.0.0.1:{PROXY}", "--admin-listen", f"127.0.0.1:{ADMIN}",
            "--status-listen", f"127.0.0.1:{STATUS}"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(f"{work}/gatehouse.log", "a"))
    for _ in range(300):
        try:
            if call("GET", ADMIN, "/")[0] == 200:
                return process, args
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("gatehouse did not start")


def wrk_rate(seconds=5):
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{PROXY}/body"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def hey(seconds, rate, workers=16):
    """Runs hey at `rate` requests/s in total; returns (p50 ms, p99 ms, total, non-200, errors)."""
    out = subprocess.run(["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", str(max(1, int(rate / workers))),
                          f"http://127.0.0.1:{PROXY}/body"], capture_output=True, text=True).stdout
    def percentile(p):
        match = re.search(rf"{p}% in ([\d.]+) secs", out)
        return float(match.group(1)) * 1000 if match else float("nan")
    statuses = {int(code): int(count) for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors_block = out.split("Error distribution:")[1] if "Error distribution:" in out else ""
    errors = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors_block))
    total = sum(statuses.values())
    return percentile(50), percentile(99), total, total - statuses.get(200, 0), errors


def churn(stop, counts):
    """10 changes per second: add a route, delete the previous one, edit a disabled policy."""
    index = 0
    while not stop.is_set():
        started = time.time()
        kind = index % 3
        if kind == 0:
            status, _ = call("POST", ADMIN, "/routes", {"name": f"churn-{index}", "paths": [f"/churn/{index}"], "upstream": "origin"})
        elif kind == 1:
            status, _ = call("DELETE", ADMIN, f"/routes/churn-{index - 1}")
        else:
            status, _ = call("PATCH", ADMIN, "/policies/limits", {"config": {"limit": 100 + index}})
        counts["ok" if status < 300 else "failed"] += 1
        index += 1
        time.sleep(max(0, 0.1 - (time.time() - started)))


def main():
    work = tempfile.mkdtemp()
    os.chmod(work, 0o755)
    upstream("start_upstream", work)
    gatehouse, args = start_gatehouse(work)
    try:
        call("POST", ADMIN, "/upstreams", {"name": "origin", "targets": [{"target": f"127.0.0.1:{UPSTREAM}"}]})
        call("POST", ADMIN, "/routes", {"name": "body", "paths": ["/body"], "upstream": "origin"})
        call("POST", ADMIN, "/policies", {"name": "limits", "type": "rate-limit", "route": "body", "enabled": False,
                                          "config": {"limit": 100, "window": "1s"}})
        maximum = wrk_rate()
        rate = maximum / 2
        counts = {"ok": 0, "failed": 0}
        phases = {"steady": [], "churn": []}
        for _ in range(max(1, CHURN_SECONDS // WINDOW_SECONDS)):
            phases["steady"].append(hey(WINDOW_SECONDS, rate))
            stop = threading.Event()
            changer = threading.Thread(target=churn, args=(stop, counts))
            changer.start()
            phases["churn"].append(hey(WINDOW_SECONDS, rate))
            stop.set()
            changer.join()

        def summary(windows):
            return (statistics.median(w[0] for w in windows), statistics.median(w[1] for w in windows),
                    sum(w[2] for w in windows), sum(w[3] for w in windows), sum(w[4] for w in windows))
        steady, during = summary(phases["steady"]), summary(phases["churn"])
        windows = len(phases["churn"])
        print(f"### Config churn (`hey` at {rate:,.0f} req/s, half of the {maximum:,.0f} req/s wrk measured)\n")
        print(f"{windows} rounds of {WINDOW_SECONDS} s steady then {WINDOW_SECONDS} s with config changes; p50 and p99 are medians over the rounds.\n")
        print("| phase | requests | non-200 | socket errors | p50 | p99 |")
        print("|---|---|---|---|---|---|")
        print(f"| steady, {windows * WINDOW_SECONDS} s | {steady[2]:,} | {steady[3]} | {steady[4]} | {steady[0]:.2f} ms | {steady[1]:.2f} ms |")
        print(f"| {counts['ok']} config changes in {windows * WINDOW_SECONDS} s ({counts['failed']} failed) | {during[2]:,} | {during[3]} | {during[4]} | {during[0]:.2f} ms | {during[1]:.2f} ms |")
        # Each round's windows are next to each other in time: their ratio is what drift touches least.
        ratios = [c[1] / s[1] for s, c in zip(phases["steady"], phases["churn"])]
        listed = ", ".join(f"{r:.2f}×" for r in ratios)
        print(f"\np99 during churn / steady p99, median of the rounds: **{statistics.median(ratios):.2f}×** (round by round: {listed})\n")
        if CHURN_ONLY:
            return

        # Propagation with 10,000 routes.
        routes = [{"name": f"r{i}", "paths": [f"/svc{i}/items"], "methods": ["GET"], "upstream": "origin"} for i in range(10000)]
        document = {"format_version": 1, "upstreams": [{"name": "origin", "targets": [{"target": f"127.0.0.1:{UPSTREAM}"}]}],
                    "routes": routes}
        started = time.time()
        call("PUT", ADMIN, "/config", document)
        put_seconds = time.time() - started
        acknowledged, visible = [], []
        for i in range(100):
            started = time.time()
            status, _ = call("POST", ADMIN, "/routes", {"name": f"new{i}", "paths": [f"/new{i}"], "upstream": "origin"})
            ack = time.time()
            attempts = 0
            while True:
                attempts += 1
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{PROXY}/new{i}", timeout=5) as response:
                        if response.status == 200:
                            break
                except urllib.error.HTTPError:
                    pass
            acknowledged.append((ack - started) * 1000)
            visible.append((time.time() - ack) * 1000)
        q = lambda values, p: statistics.quantiles(values, n=100)[p - 1]
        print("### Propagation with 10,000 routes\n")
        print(f"`PUT /config` of 10,000 routes: {put_seconds * 1000:,.0f} ms. Then 100 single route creations:\n")
        print("| measure | p50 | p99 |")
        print("|---|---|---|")
        print(f"| admin write, request to acknowledgement | {q(acknowledged, 50):.1f} ms | {q(acknowledged, 99):.1f} ms |")
        print(f"| acknowledgement to the first request served by the new route | {q(visible, 50):.2f} ms | {q(visible, 99):.2f} ms |")
        print()

        # Binary upgrade under load (needs tcp_migrate_req=1, as deploy/upgrade.sh sets).
        call("PUT", ADMIN, "/config", {"format_version": 1, "upstreams": document["upstreams"],
                                        "routes": [{"name": "body", "paths": ["/body"], "upstream": "origin"}]})
        result = {}
        loader = threading.Thread(target=lambda: result.update(upgrade=hey(20, rate)))
        loader.start()
        time.sleep(5)
        upgrade = subprocess.Popen([os.path.join(ROOT, "deploy/upgrade.sh"), str(gatehouse.pid), BINARY] + args[2:],
                                   stdout=subprocess.DEVNULL, stderr=open(f"{work}/upgrade.log", "a"))
        gatehouse.wait()
        loader.join()
        u = result["upgrade"]
        print("### Binary upgrade under load\n")
        print("| requests | non-200 | socket errors | p99 |")
        print("|---|---|---|---|")
        print(f"| {u[2]:,} | {u[3]} | {u[4]} | {u[1]:.2f} ms |")
        upgrade.send_signal(signal.SIGTERM)
        subprocess.run(["pkill", "-f", f"127.0.0.1:{ADMIN}"])
    finally:
        if gatehouse.poll() is None:
            gatehouse.terminate()
        upstream("stop_upstream", work)


if __name__ == "__main__":
    sys.exit(main())
