#!/usr/bin/env python3
"""Memory of `frontdesk serve` under a burst of sign-ins with unknown emails.

Method: start `serve --demo` on a fresh data dir with 127.0.0.0/8 as a trusted proxy, so each
sign-in can come from its own address (X-Forwarded-For) and the per-address throttle does
not stop the burst. Fire BURST sign-ins at once, each with an unknown email and its own
address; sample VmRSS from /proc/PID/status every 50 ms during the burst and for 10 s after
the last answer. Print the answers by status, the peak RSS and the RSS 10 s after.

Usage: scripts/bench-hash-burst.py [path/to/frontdesk] (default target/release/frontdesk)
Extra environment (e.g. FRONTDESK_SECURITY__PASSWORD_HASH_MEMORY_MIB) passes through.
"""
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BURST = 200
AFTER_SECONDS = 10.0
BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/frontdesk"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def sign_in(host, port, n):
    body = json.dumps({"tenant": "demo", "email": f"nobody{n}@example.com", "password": "Wrong#Pass1"})
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nX-Forwarded-For: 10.{n // 65536}.{n // 256 % 256}.{n % 256}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    )
    writer.write(request.encode())
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1])


async def sample(pid, samples, stop):
    while not stop.is_set():
        samples.append(rss_mib(pid))
        await asyncio.sleep(0.05)


async def main():
    env = dict(os.environ, FRONTDESK_SECURITY__TRUSTED_PROXIES='["127.0.0.0/8"]')
    with tempfile.TemporaryDirectory() as data_dir:
        args = [BINARY, "serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir", data_dir]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in proc.stdout:
            if line.startswith("listening on "):
                url = line.split()[-1]
                break
        host, port = url.removeprefix("http://").split(":")
        await asyncio.sleep(2)  # the decoy hash is made in the background at start
        idle = rss_mib(proc.pid)
        samples, stop = [], asyncio.Event()
        sampler = asyncio.create_task(sample(proc.pid, samples, stop))
        began = time.perf_counter()
        statuses = await asyncio.gather(*(sign_in(host, int(port), n) for n in range(BURST)))
        burst_seconds = time.perf_counter() - began
        await asyncio.sleep(AFTER_SECONDS)
        after = rss_mib(proc.pid)
        stop.set()
        await sampler
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    print(f"{BURST} sign-ins in {burst_seconds:.1f} s: {dict(collections.Counter(statuses))}")
    print(f"idle RSS {idle:.1f} MiB, peak RSS {max(samples):.1f} MiB, RSS {AFTER_SECONDS:.0f} s after {after:.1f} MiB")


asyncio.run(main())
