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
import json
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


class Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: the load generator shares the server's
    two cores, so it must cost little CPU per request (httpx costs about as much as the server's own work)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict) -> int:
        """The status of one POST (JSON body); the response body is read whole and dropped."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            while size := int((await self.reader.readline()).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load(host: str, port: int, texts: list[str], requests: int, clients: int, limit_s: float) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0

    async def client() -> None:
        nonlocal sent, errors
        connection = Connection(host, port)
        try:
            while sent < requests:
                text = texts[sent % len(texts)]
                sent += 1
                started = time.perf_counter()
                try:
                    ok = await connection.post("/v1/predict", {"texts": [text]}) == 200
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    ok = False
                    await connection.close()
                latencies.append(time.perf_counter() - started)
                errors += not ok
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), limit_s)
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
        asyncio.run(load("127.0.0.1", port, texts, 2 * args.clients, args.clients, args.limit_s))  # warm-up
        result = asyncio.run(load("127.0.0.1", port, texts, args.requests, args.clients, args.limit_s))
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
