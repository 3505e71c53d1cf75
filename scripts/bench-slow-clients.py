#!/usr/bin/env python3
"""`/healthz` latency while thousands of slow clients hold half-sent requests.

Method: start `serve --demo` on a fresh data dir (default limits: 10 s header deadline,
10,000 connections). Time REQUESTS sequential `GET /healthz` requests, each on a new
connection (`Connection: close`), as a baseline. Then open SLOW connections that each send
half a request (a request line and one unfinished header) and nothing more, and time the same
requests again while they are held. Count how many slow connections the server still holds
(its open descriptors, from /proc) and how many it has closed, then wait past the header
deadline and count and time again.

Usage: scripts/bench-slow-clients.py [path/to/frontdesk] (default target/release/frontdesk)
"""
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SLOW = 5000
REQUESTS = 2000
HEADER_DEADLINE_SECONDS = 10
BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/frontdesk"
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nX-Slow: "
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nConnection: close\r\n\r\n"


def start(data_dir):
    args = [BINARY, "serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir", data_dir]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("listening on "):
            host, port = line.split()[-1].removeprefix("http://").rsplit(":", 1)
            return proc, host, int(port)
    raise RuntimeError("the server exited before listening")


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def healthz(host, port):
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HEALTHZ)
    response = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    if not response.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer: {response[:80]!r}")
    return (time.perf_counter() - began) * 1000


async def timed(host, port, label):
    samples = sorted([await healthz(host, port) for _ in range(REQUESTS)])
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print(
        f"{label}: n={len(samples)} median={statistics.median(samples):.2f} ms "
        f"p99={p(0.99):.2f} ms max={samples[-1]:.2f} ms"
    )


async def hold(host, port, closed):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HALF_REQUEST)
    await writer.drain()

    async def until_closed():
        await reader.read()
        closed.append(time.perf_counter())
        writer.close()

    return asyncio.create_task(until_closed())


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start(data_dir)
        try:
            await timed(host, port, "baseline, no slow clients")
            idle = open_descriptors(proc.pid)

            closed = []
            began = time.perf_counter()
            watchers = []
            for _ in range(SLOW):
                watchers.append(await hold(host, port, closed))
            opened = time.perf_counter()
            print(f"opened {SLOW} half-sent requests in {opened - began:.2f} s")
            await timed(host, port, f"while {SLOW} slow clients are held")
            held = open_descriptors(proc.pid) - idle
            print(
                f"after {time.perf_counter() - began:.1f} s: server holds {held} extra descriptors, "
                f"closed {len(closed)} slow clients"
            )

            await asyncio.sleep(max(0, began + HEADER_DEADLINE_SECONDS + 1 - time.perf_counter()))
            await asyncio.wait_for(asyncio.gather(*watchers), 30)
            held = open_descriptors(proc.pid) - idle
            print(
                f"after {time.perf_counter() - began:.1f} s: server holds {held} extra descriptors, "
                f"closed {len(closed)} slow clients, the last "
                f"{max(closed) - opened:.2f} s after the last was opened"
            )
            await timed(host, port, "after the header deadline")
        finally:
            proc.terminate()
            proc.wait()


asyncio.run(main())
