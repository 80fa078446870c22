#!/usr/bin/env python3
"""Binary upgrades under load, printed as Markdown (see docs/benchmarks.md).

`deploy/upgrade.sh` replaces the running process UPGRADES times in a row (each new process is
the next one's old), first under `wrk -t1 -c32` (keep-alive connections sent back to back),
then under `hey` at half of the maximum rate (16 workers). Each load runs for the whole series
and is stopped with SIGINT, which makes both print their totals. Errors must be zero, with
net.ipv4.tcp_migrate_req as this machine has it (the handoff needs no kernel setting).

Run by bench/upgrades.sh, which builds the release binary and installs the tools.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zero_downtime import ADMIN, BINARY, PROXY, ROOT, UPSTREAM, call, start_gatehouse, upstream, wrk_rate  # noqa: E402

UPGRADES = int(os.environ.get("UPGRADES", "20"))


def upgrade_series(gatehouse, args, work):
    """Upgrades UPGRADES times; returns the last process's pid and the seconds each took."""
    pid, took = gatehouse.pid, []
    if isinstance(gatehouse, subprocess.Popen):
        # This script's own child: reaped here, or upgrade.sh would wait on a zombie. Later ones
        # are each upgrade.sh's child, reaped by it.
        threading.Thread(target=gatehouse.wait, daemon=True).start()
    for _ in range(UPGRADES):
        started = time.time()
        log = open(f"{work}/upgrade.log", "a+")
        subprocess.Popen([os.path.join(ROOT, "deploy/upgrade.sh"), str(pid), BINARY] + args[2:],
                         stdout=subprocess.DEVNULL, stderr=log)
        new_pid = None
        while True:
            log.seek(0)
            text = log.read()
            match = re.findall(rf"started (\d+) beside {pid}\n", text)
            if match:
                new_pid = int(match[-1])
            if new_pid and f"upgraded: {pid} drained and exited" in text:
                break
            time.sleep(0.05)
        took.append(time.time() - started)
        pid = new_pid
    return pid, took


def under(load_command, gatehouse, args, work):
    load = subprocess.Popen(load_command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    pid, took = upgrade_series(gatehouse, args, work)
    time.sleep(2)
    load.send_signal(signal.SIGINT)
    out = load.communicate()[0]
    return pid, took, out


def wrk_counts(out):
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out).groups()) \
        if "Socket errors" in out else 0
    non2xx = int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)) if "Non-2xx" in out else 0
    return total, non2xx, errors


def hey_counts(out):
    statuses = {int(code): int(count) for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors_block = out.split("Error distribution:")[1] if "Error distribution:" in out else ""
    errors = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors_block))
    total = sum(statuses.values())
    return total, total - statuses.get(200, 0), errors


def main():
    work = tempfile.mkdtemp()
    os.chmod(work, 0o755)
    upstream("start_upstream", work)
    gatehouse, args = start_gatehouse(work)
    last = gatehouse.pid
    try:
        call("POST", ADMIN, "/upstreams", {"name": "origin", "targets": [{"target": f"127.0.0.1:{UPSTREAM}"}]})
        call("POST", ADMIN, "/routes", {"name": "body", "paths": ["/body"], "upstream": "origin"})
        rate = wrk_rate() / 2
        migrate = open("/proc/sys/net/ipv4/tcp_migrate_req").read().strip()
        rows = []
        last, took, out = under(["wrk", "-t1", "-c32", "-d600s", f"http://127.0.0.1:{PROXY}/body"], gatehouse, args, work)
        rows.append(("wrk -t1 -c32", took, *wrk_counts(out)))
        gatehouse = type("Running", (), {"pid": last})
        last, took, out = under(["hey", "-z", "600s", "-c", "16", "-q", str(max(1, int(rate / 16))), f"http://127.0.0.1:{PROXY}/body"],
                                gatehouse, args, work)
        rows.append((f"hey -c16 at {rate:,.0f}/s (half of wrk's maximum)", took, *hey_counts(out)))
        print(f"{UPGRADES} upgrades in a row per load, net.ipv4.tcp_migrate_req={migrate}, "
              f"handoff socket by default, release build, 1 KiB responses from nginx.\n")
        print("| load | upgrades | median upgrade | requests | non-2xx | socket errors |")
        print("|---|---|---|---|---|---|")
        for name, took, total, non2xx, errors in rows:
            print(f"| {name} | {len(took)} | {sorted(took)[len(took) // 2]:.2f} s | {total:,} | {non2xx} | {errors} |")
    finally:
        subprocess.run(["kill", "-TERM", str(last)])
        upstream("stop_upstream", work)


if __name__ == "__main__":
    main()
