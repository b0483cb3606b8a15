#!/usr/bin/env python3
"""Greedy replies of two OpenAI-compatible servers on this machine, side by side: Hearth's
`hearth-cli serve` and llama.cpp's `llama-server --jinja`, both started by hand on the same GGUF
file with the same context and slots. Sends the same greedy chat requests (temperature 0,
max_tokens 32, no penalties, top_k/top_p/min_p neutral) to both, non-streaming, one at a time,
and reports per prompt whether the replies are identical, the first differing character and
token otherwise, and the prompt/completion token counts each server reports (usage). Exits 1
when any reply differs.

Starts nothing itself and contacts loopback addresses only (127.0.0.0/8, localhost).

Start llama-server with flash attention off: its default (`-fa auto`) turns ggml's CPU
flash-attention kernel on, which rounds Q and the softmax-weighted sum of V to FP16, so its
log-probabilities move by a few hundredths and greedy replies part where two candidates are
close. Hearth follows ggml's attention without it (soft_max, then mul_mat in F32), as
llama-cpp-python does by default:

    hearth-cli serve MODEL --port 8080 --slots 4 --ctx 2048 --threads 2
    llama-server -m MODEL --port 8081 -np 4 -c 8192 --no-kv-unified -t 2 --jinja -fa off
(llama-server's -c is all slots' context together, Hearth's --ctx each slot's.)

usage: compare_servers.py HEARTH_URL LLAMA_URL [--max-tokens 32] [--json]
  e.g. compare_servers.py http://127.0.0.1:8080/v1 http://127.0.0.1:8081/v1
"""
import argparse
import http.client
import json
import sys
import urllib.parse

# A handful of chats: plain questions, a system message, a multi-turn exchange, non-ASCII.
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [{"role": "system", "content": "You are a terse assistant. Answer in one sentence."},
     {"role": "user", "content": "Why is the sky blue?"}],
    [{"role": "user", "content": "List three fruits."},
     {"role": "assistant", "content": "Apple, banana, cherry."},
     {"role": "user", "content": "Now three vegetables."}],
    [{"role": "user", "content": "Count from 1 to 20, separated by commas."}],
    [{"role": "user", "content": "Traduis en français : « The cat sleeps on the warm windowsill. »"}],
    [{"role": "user", "content": "def fib(n):\n    # complete this Python function"}],
    [{"role": "user", "content": "Hi"}],
]


def loopback(url_text):
    url = urllib.parse.urlparse(url_text)
    if url.scheme != "http" or not url.hostname:
        sys.exit(f"compare_servers.py: {url_text!r} is not an http:// URL")
    if url.hostname not in ("localhost", "::1") and not url.hostname.startswith("127."):
        sys.exit(f"compare_servers.py: {url_text!r}: only loopback addresses (127.0.0.0/8)")
    return url


def post(url, route, body, timeout):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("POST", url.path.rstrip("/") + route, json.dumps(body),
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{route}: HTTP {response.status}: {data[:300]!r}")
    return json.loads(data)


def greedy_request(messages, max_tokens):
    # Every sampler neutral or off, in the names both servers accept.
    return {"model": "", "messages": messages, "max_tokens": max_tokens, "stream": False,
            "temperature": 0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "seed": 1,
            "repeat_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0}


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def token_difference(url, a, b, timeout):
    """The first differing token of two replies, by the llama-server's /tokenize (absent on
    other servers: None then)."""
    root = url._replace(path=url.path.rstrip("/").removesuffix("/v1"))
    try:
        ta = post(root, "/tokenize", {"content": a}, timeout)["tokens"]
        tb = post(root, "/tokenize", {"content": b}, timeout)["tokens"]
    except (RuntimeError, OSError, KeyError, ValueError):
        return None
    return first_difference(ta, tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hearth_url", help="Hearth's /v1 URL, e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("llama_url", help="llama-server's /v1 URL, e.g. http://127.0.0.1:8081/v1")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", action="store_true", help="also print one JSON object per prompt")
    a = ap.parse_args()
    hearth, llama = loopback(a.hearth_url), loopback(a.llama_url)
    if not 0 < a.max_tokens <= 4096:
        sys.exit("compare_servers.py: --max-tokens must be 1..4096")

    print("| # | prompt | equal | first difference (char / token) | prompt tokens "
          "(Hearth / llama) | completion tokens (Hearth / llama) | finish (Hearth / llama) |")
    print("|---|---|---|---|---|---|---|")
    differing = 0
    for i, messages in enumerate(CONVERSATIONS):
        body = greedy_request(messages, a.max_tokens)
        h = post(hearth, "/chat/completions", body, a.timeout)
        l = post(llama, "/chat/completions", body, a.timeout)
        h_text = h["choices"][0]["message"].get("content") or ""
        l_text = l["choices"][0]["message"].get("content") or ""
        char = first_difference(h_text, l_text)
        token = None if char is None else token_difference(llama, h_text, l_text, a.timeout)
        differing += char is not None
        where = "—" if char is None else f"{char} / {token if token is not None else '?'}"
        hu, lu = h.get("usage", {}), l.get("usage", {})
        label = messages[-1]["content"][:40].replace("\n", " ").replace("|", "/")
        print(f"| {i} | {label} | {'yes' if char is None else 'NO'} | {where} | "
              f"{hu.get('prompt_tokens')} / {lu.get('prompt_tokens')} | "
              f"{hu.get('completion_tokens')} / {lu.get('completion_tokens')} | "
              f"{h['choices'][0].get('finish_reason')} / {l['choices'][0].get('finish_reason')} |")
        if a.json or char is not None:
            print(json.dumps({"prompt": i, "hearth": h_text, "llama": l_text}, ensure_ascii=False))
    print(f"{len(CONVERSATIONS) - differing}/{len(CONVERSATIONS)} replies identical")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
