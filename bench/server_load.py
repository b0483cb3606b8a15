#!/usr/bin/env python3
"""A load run against an OpenAI-compatible server on this machine (hearth-cli serve or
llama.cpp's llama-server): REQUESTS streamed chat requests from CLIENTS concurrent clients,
each client sending its next request when the last one ends. Prints requests completed,
errors, time to first token and latency (p50, p99) and total generated tokens per second, as
one JSON object and a Markdown table row.

Loopback only: the URL must be on 127.0.0.0/8 or localhost. The loop is bounded by the request
count and each request by --timeout.

usage: server_load.py URL [--model NAME] [--requests 200] [--clients 16] [--max-tokens 64]
       [--label hearth]
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
import zlib

TOPICS = ["the sea", "a city at night", "bread", "the moon", "a library", "winter", "trains",
          "a garden", "mountains", "rain", "an old clock", "the desert", "a market", "snow",
          "a lighthouse", "autumn"]


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def one_request(url, model, prompt, max_tokens, timeout, api_key):
    """Streams one chat request; returns (ttft_s, latency_s, tokens) or raises."""
    body = json.dumps({"model": model, "stream": True, "max_tokens": max_tokens,
                       "temperature": 0.7, "seed": zlib.crc32(prompt.encode()) & 0xFFFF,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": prompt}]})
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    start = time.perf_counter()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    conn.request("POST", url.path.rstrip("/") + "/chat/completions", body, headers)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
    ttft = None
    tokens = 0
    chunks = 0
    for raw in response:
        line = raw.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        event = json.loads(data)
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
        for choice in event.get("choices", []):
            if (choice.get("delta") or {}).get("content"):
                chunks += 1
                if ttft is None:
                    ttft = time.perf_counter() - start
    conn.close()
    latency = time.perf_counter() - start
    return (ttft if ttft is not None else latency), latency, tokens or chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url", help="the server's /v1 URL, e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("--model", default="")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--label", default="server")
    a = ap.parse_args()
    url = urllib.parse.urlparse(a.url)
    if url.hostname not in ("localhost", "::1") and not url.hostname.startswith("127."):
        sys.exit("server_load.py: only loopback addresses (127.0.0.0/8, localhost)")
    if not 0 < a.requests <= 100000 or not 0 < a.clients <= 256:
        sys.exit("server_load.py: 1..100000 requests and 1..256 clients")

    lock = threading.Lock()
    next_index = [0]
    results, errors = [], []

    def client():
        while True:
            with lock:
                i = next_index[0]
                if i >= a.requests:
                    return
                next_index[0] += 1
            prompt = f"Write two sentences about {TOPICS[i % len(TOPICS)]} (request {i})."
            try:
                r = one_request(url, a.model, prompt, a.max_tokens, a.timeout, a.api_key)
                with lock:
                    results.append(r)
            except Exception as e:  # counted and reported, never retried
                with lock:
                    errors.append(str(e)[:200])

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ttfts = [r[0] for r in results]
    latencies = [r[1] for r in results]
    tokens = sum(r[2] for r in results)
    report = {
        "label": a.label, "requests": a.requests, "clients": a.clients,
        "completed": len(results), "errors": len(errors), "first_errors": errors[:3],
        "ttft_p50_s": percentile(ttfts, 50), "ttft_p99_s": percentile(ttfts, 99),
        "latency_p50_s": percentile(latencies, 50), "latency_p99_s": percentile(latencies, 99),
        "tokens": tokens, "wall_s": wall, "tokens_per_second": tokens / wall if wall > 0 else 0,
        "mean_tokens_per_request": statistics.mean([r[2] for r in results]) if results else 0,
    }
    print(json.dumps(report))
    print(f"| {a.label} | {len(results)}/{a.requests} | {len(errors)} | "
          f"{report['ttft_p50_s']:.2f} / {report['ttft_p99_s']:.2f} | "
          f"{report['latency_p50_s']:.2f} / {report['latency_p99_s']:.2f} | "
          f"{report['tokens_per_second']:.1f} |")


if __name__ == "__main__":
    main()
