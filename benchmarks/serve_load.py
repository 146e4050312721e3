"""A bounded load test of ``finegrain serve`` on loopback: micro-batching versus one request at a time.

For each mode a server is started on 127.0.0.1 (a subprocess, ``--max-batch 32`` vs ``--max-batch 1``),
warmed up, then a fixed number of one-text requests is sent by a few concurrent clients (bounded in
count and in time). Prints requests/s, p50/p99 latency, errors and the mean micro-batch size (from
/metrics), then the ratio.

    python benchmarks/serve_load.py --path runs/tweet-full/exports/onnx-int8 --requests 400 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from finegrain.data.sources import load_source


def start_server(path: str, port: int, max_batch: int, max_wait_ms: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "finegrain", "serve", path, "--host", "127.0.0.1", "--port", str(port),
               "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: {' '.join(command)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not become ready in 120 s")


async def load(url: str, texts: list[str], requests: int, clients: int, limit_s: float) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent, errors
        while sent < requests:
            text = texts[sent % len(texts)]
            sent += 1
            started = time.perf_counter()
            try:
                response = await http.post("/v1/predict", json={"texts": [text]})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(client(http) for _ in range(clients))), limit_s)
        seconds = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "seconds": seconds, "rps": len(latencies) / seconds, "errors": errors,
            "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


def mean_batch(url: str) -> float:
    values = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(("finegrain_batch_size_sum", "finegrain_batch_size_count")):
            name, value = line.split()
            values[name] = float(value)
    return values["finegrain_batch_size_sum"] / max(1.0, values["finegrain_batch_size_count"])


def run_mode(path: str, max_batch: int, args: argparse.Namespace, texts: list[str]) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_server(path, port, max_batch, args.max_wait_ms)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(load(url, texts, 2 * args.clients, args.clients, args.limit_s))  # warm-up
        result = asyncio.run(load(url, texts, args.requests, args.clients, args.limit_s))
        result["mean_batch_after_warmup"] = mean_batch(url)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="a run or an export folder")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--limit-s", type=float, default=300.0, help="upper bound on one load phase")
    parser.add_argument("--data", default="tweet-sentiment", help="where the request texts come from (test split)")
    args = parser.parse_args()
    texts = [str(t) for t in load_source(args.data, "test", {"text": "text", "label": "label"}).frame["text"]][:1000]
    results = {}
    for name, max_batch in (("micro-batching (--max-batch 32)", 32), ("one at a time (--max-batch 1)", 1)):
        results[name] = r = run_mode(args.path, max_batch, args, texts)
        print(f"{name:<34} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"errors {r['errors']}/{r['requests']}  mean batch {r['mean_batch_after_warmup']:.1f}  "
              f"({r['seconds']:.1f} s)", flush=True)
    batched, single = results.values()
    print(f"{args.requests} one-text requests from {args.clients} concurrent clients on 127.0.0.1, server {args.path}")
    print(f"micro-batching / one-at-a-time = {batched['rps'] / single['rps']:.2f}x requests/s")


if __name__ == "__main__":
    main()
