#!/usr/bin/env python3
"""Cluster propagation, run by bench/cluster.sh with the release binary.

1. One control plane, 3 real data planes: commit a change (POST /routes), then time until all
   three report it applied (GET /data-planes shows the version for each), with 100, 10,000 and
   100,000 routes in the config (each change reaches them as a delta).
2. 100 simulated data planes speaking the real protocol (hello headers, zlib frames, ACK
   reports) on one control plane: time from a commit until all 100 acknowledged it, and the
   control plane's memory as they connect and as versions are pushed.
"""
import asyncio, json, os, statistics, struct, subprocess, sys, time, urllib.request, uuid, zlib

BINARY, WORK = sys.argv[1], sys.argv[2]
TOKEN = "bench-cluster-token-0123456789"
ADMIN, CLUSTER = 18801, 18805


def call(method, port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def wait(condition, what, seconds=180):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if condition():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def start(arguments, log):
    return subprocess.Popen([BINARY] + arguments, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def all_acked(version, count):
    status, body, _ = call("GET", ADMIN, "/data-planes")
    planes = [plane for plane in body["data"] if plane["connected"]]
    return len(planes) >= count and all(plane["config_version"] == version for plane in planes)


def config(routes):
    return {"format_version": 1, "upstreams": [{"name": "bench", "targets": [{"target": "127.0.0.1:9"}]}],
            "routes": [{"name": f"svc{i}", "paths": [f"/svc{i}"], "upstream": "bench"} for i in range(routes)]}


def propagation(routes, trials, planes):
    status, _, headers = call("PUT", ADMIN, "/config", config(routes))
    assert status == 200, status
    version = int(headers["Gatehouse-Config-Version"])
    wait(lambda: all_acked(version, planes), f"{planes} data planes at version {version}")
    times = []
    for trial in range(trials):
        status, _, headers = call("POST", ADMIN, "/routes", {"name": f"probe{routes}-{trial}", "paths": [f"/probe/{trial}"], "upstream": "bench"})
        assert status == 201, status
        version = int(headers["Gatehouse-Config-Version"])
        # Polled slowly, so the polls take no CPU from the data planes; the control plane itself
        # timed each ACK from the commit (`apply_ms`).
        while not all_acked(version, planes):
            time.sleep(0.05)
        planes_now = [plane for plane in call("GET", ADMIN, "/data-planes")[1]["data"] if plane["connected"]]
        times.append(max(plane["apply_ms"] for plane in planes_now))
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]


class SimulatedDataPlane:
    """Says hello, reads frames, ACKs each snapshot: the real protocol, without a proxy."""

    def __init__(self):
        self.node = str(uuid.uuid4())
        self.version = None

    async def run(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", CLUSTER)
        writer.write((f"GET /cluster/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                      f"Gatehouse-Node-Id: {self.node}\r\nGatehouse-Hostname: sim\r\nGatehouse-Version: bench\r\n"
                      f"Gatehouse-Cluster-Protocol: 1\r\nGatehouse-Policy-Types: \r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        pending = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                return
            pending += await reader.readexactly(size)
            await reader.readexactly(2)
            while len(pending) >= 8:
                compressed, _ = struct.unpack(">II", pending[:8])
                if len(pending) < 8 + compressed:
                    break
                message = json.loads(zlib.decompress(pending[8:8 + compressed]).split(b"\n", 1)[0])
                pending = pending[8 + compressed:]
                if message["type"] == "snapshot":
                    self.version = message["version"]
                    await self.report(message["version"], message["hash"])

    async def report(self, version, hash_):
        body = json.dumps({"node_id": self.node, "type": "applied", "version": version, "hash": hash_}).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", CLUSTER)
        writer.write((f"POST /cluster/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        await writer.drain()
        await reader.read()
        writer.close()


async def simulated(count, pushes, control_plane):
    planes = [SimulatedDataPlane() for _ in range(count)]
    rss_before = rss_kib(control_plane.pid)
    tasks = [asyncio.create_task(plane.run()) for plane in planes]
    loop = asyncio.get_running_loop()
    current = call("GET", ADMIN, "/")[1]["config_version"]
    await loop.run_in_executor(None, wait, lambda: all(p.version == current for p in planes), "simulated planes on the current version")
    rss_connected = rss_kib(control_plane.pid)
    times = []
    for push in range(pushes):
        status, _, headers = await loop.run_in_executor(
            None, call, "POST", ADMIN, "/routes", {"name": f"sim-{push}", "paths": [f"/sim/{push}"], "upstream": "bench"})
        started = time.perf_counter()
        version = int(headers["Gatehouse-Config-Version"])
        while not all(p.version == version for p in planes):
            await asyncio.sleep(0.001)
        times.append((time.perf_counter() - started) * 1000)
    # The last ACK reports may still be on their way.
    try:
        await loop.run_in_executor(None, wait, lambda: all_acked(version, count), "every ACK", 10)
        acked = True
    except SystemExit:
        acked = False
    rss_after = rss_kib(control_plane.pid)
    for task in tasks:
        task.cancel()
    return times, acked, rss_before, rss_connected, rss_after


def main():
    control_plane = start(["control-plane", "--db", f"{WORK}/cp.db", "--admin-listen", f"127.0.0.1:{ADMIN}",
                           "--cluster-listen", f"127.0.0.1:{CLUSTER}", "--cluster-token", TOKEN, "--log-level", "warning"], f"{WORK}/cp.log")
    planes = []
    try:
        wait(lambda: call("GET", ADMIN, "/")[0] == 200, "the control plane")
        for index in range(3):
            planes.append(start(["data-plane", "--control-plane", f"http://127.0.0.1:{CLUSTER}", "--cluster-token", TOKEN,
                                 "--cache-dir", f"{WORK}/dp{index}", "--proxy-listen", f"127.0.0.1:{18810 + index}",
                                 "--status-listen", f"127.0.0.1:{18820 + index}", "--workers", "1", "--log-level", "warning"],
                                f"{WORK}/dp{index}.log"))
        small = propagation(100, 50, 3)
        large = propagation(10_000, 20, 3)
        huge = propagation(100_000, 10, 3)
        print("## Cluster propagation (`bench/cluster.sh`)\n")
        print("Commit → applied and acknowledged by every data plane, as the control plane times it (`apply_ms` in `GET /data-planes`: "
              "from the version's commit to each data plane's ACK; the slowest of the 3 per trial), 3 data planes on this machine:\n")
        print("| config | trials | p50 | p99 |")
        print("|---|---|---|---|")
        print(f"| 100 routes | 50 | {small[0]:.1f} ms | {small[1]:.1f} ms |")
        print(f"| 10,000 routes | 20 | {large[0]:.1f} ms | {large[1]:.1f} ms |")
        print(f"| 100,000 routes | 10 | {huge[0]:.1f} ms | {huge[1]:.1f} ms |")
        for plane in planes:
            plane.terminate()
        planes = []
        call("PUT", ADMIN, "/config", config(100))
        times, acked, before, connected, after = asyncio.run(simulated(100, 10, control_plane))
        times.sort()
        print(f"\n100 simulated data planes (the real protocol: hello, zlib frames, ACK reports) on one control plane, "
              f"config of 100 routes, 10 pushes: commit → all 100 acknowledged p50 {statistics.median(times):.0f} ms, "
              f"max {times[-1]:.0f} ms; `/data-planes` lists all 100 at the last version: {acked}. "
              f"Control plane RSS {before / 1024:.1f} MiB before they connect, {connected / 1024:.1f} MiB with 100 connected, "
              f"{after / 1024:.1f} MiB after the 10 pushes.")
    finally:
        for plane in planes:
            plane.terminate()
        control_plane.terminate()


main()
