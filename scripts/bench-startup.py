#!/usr/bin/env python3
"""Start-up time and idle memory of `frontdesk serve` on an existing database.

Method: seed a data dir once with `serve --demo`; then start `serve` on it RUNS times. Each
run measures the wall time from exec until the server prints `listening on …` (database
opened, migrations checked, socket bound, jobs started) and until `/readyz` first answers
200. After the server has answered and sat idle for IDLE_SECONDS, its resident set size is
read from /proc/PID/status. The server is then stopped with SIGTERM.

Usage: scripts/bench-startup.py [path/to/frontdesk] (default target/release/frontdesk)
Set FRONTDESK_DATABASE__URL to measure on PostgreSQL instead of SQLite.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNS = 20
IDLE_SECONDS = 2.0
BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/frontdesk"


def start(data_dir, demo=False):
    args = [BINARY, "serve", "--bind", "127.0.0.1:0", "--data-dir", data_dir]
    if demo:
        args.append("--demo")
    began = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("listening on "):
            return proc, line.split()[-1], time.perf_counter() - began, began
    raise RuntimeError("the server exited before listening")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def main():
    with tempfile.TemporaryDirectory() as data_dir:
        proc, _, _, _ = start(data_dir, demo=True)
        stop(proc)
        listening, ready, rss = [], [], []
        for _ in range(RUNS):
            proc, url, until_listening, began = start(data_dir)
            with urllib.request.urlopen(f"{url}/readyz") as response:
                assert response.status == 200
            until_ready = time.perf_counter() - began
            time.sleep(IDLE_SECONDS)
            rss.append(rss_kib(proc.pid) / 1024)
            stop(proc)
            listening.append(until_listening * 1000)
            ready.append(until_ready * 1000)

    def row(name, values, unit):
        values = sorted(values)
        p95 = values[int(len(values) * 0.95) - 1]
        print(f"| {name} | {statistics.median(values):.1f} {unit} | {p95:.1f} {unit} | {max(values):.1f} {unit} |")

    backend = "PostgreSQL" if os.environ.get("FRONTDESK_DATABASE__URL") else "SQLite"
    print(f"{RUNS} runs on {backend}\n")
    print("| measure | median | p95 | max |")
    print("|---|---|---|---|")
    row("exec → listening", listening, "ms")
    row("exec → /readyz 200", ready, "ms")
    row("idle RSS", rss, "MiB")


if __name__ == "__main__":
    main()
