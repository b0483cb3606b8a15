#!/usr/bin/env python3
"""Drives a running `hearth-cli serve` with the official OpenAI Python client (and raw HTTP
for what the client cannot send), and prints one JSON object of what it saw, for
tst_server_openai to check. Every loop is bounded; nothing but the given loopback URL is
contacted.

usage: openai_client_check.py BASE_URL MODEL_ID [--api-key KEY] [--auth-only]
"""
import argparse
import json
import socket
import sys
import threading
import urllib.parse

import openai

PROMPTS = [
    "Write one sentence about the sea.",
    "Name three colours.",
    "What is 2 + 2?",
    "Say hello in French.",
    "Describe a cat in five words.",
    "What is the capital of Italy?",
    "Give me a word that rhymes with moon.",
    "Count from one to five.",
]


def raw_request(base, method, path, body=b"", headers=None, read_all=True):
    """One HTTP/1.1 request on a fresh socket; returns (status, body bytes)."""
    url = urllib.parse.urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=60) as s:
        head = [f"{method} {path} HTTP/1.1", f"Host: {url.hostname}:{url.port}",
                "Connection: close", f"Content-Length: {len(body)}"]
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        while read_all:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


def chat(client, model, prompt, **kw):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], **kw)


def stream_text(client, model, prompt, **kw):
    text, finish, usage, first_role = "", None, None, None
    for chunk in chat(client, model, prompt, stream=True, **kw):
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.role and first_role is None:
                first_role = choice.delta.role
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return {"text": text, "finish": finish, "usage": usage, "role": first_role}


def status_of(call):
    try:
        call()
        return 200
    except openai.APIStatusError as e:
        return e.status_code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("model")
    ap.add_argument("--api-key", default="none")
    ap.add_argument("--auth-only", action="store_true")
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.base, api_key=a.api_key, max_retries=0, timeout=600)
    host = a.base.rsplit("/v1", 1)[0]
    out = {}

    if a.auth_only:
        out["without_key"] = status_of(lambda: openai.OpenAI(
            base_url=a.base, api_key="wrong", max_retries=0).models.list())
        out["with_key"] = [m.id for m in client.models.list().data]
        out["health_without_key"] = raw_request(host, "GET", "/health")[0]
        print(json.dumps(out))
        return

    out["models"] = [m.id for m in client.models.list().data]
    greedy = dict(temperature=0, max_tokens=24)
    r = chat(client, a.model, PROMPTS[0], **greedy)
    out["chat"] = {"text": r.choices[0].message.content, "finish": r.choices[0].finish_reason,
                   "usage": r.usage.model_dump(), "fingerprint": r.system_fingerprint,
                   "object": r.object}
    out["stream"] = stream_text(client, a.model, PROMPTS[0],
                                stream_options={"include_usage": True}, **greedy)

    text = out["chat"]["text"]
    stop = text[len(text) // 2: len(text) // 2 + 3]
    r = chat(client, a.model, PROMPTS[0], stop=[stop], **greedy)
    out["stop"] = {"stop": stop, "text": r.choices[0].message.content,
                   "finish": r.choices[0].finish_reason}

    c = client.completions.create(model=a.model, prompt="The capital of France is",
                                  temperature=0, max_tokens=8)
    out["completion"] = {"text": c.choices[0].text, "usage": c.usage.model_dump(),
                         "finish": c.choices[0].finish_reason}

    sampled = [chat(client, a.model, PROMPTS[1], temperature=0.9, seed=seed,
                    max_tokens=16).choices[0].message.content for seed in (7, 7, 8)]
    out["seeded"] = sampled

    r = chat(client, a.model, PROMPTS[2], logprobs=True, top_logprobs=3, **greedy)
    lp = r.choices[0].logprobs.content
    out["logprobs"] = {
        "n": len(lp),
        "all_top3": all(len(t.top_logprobs) == 3 for t in lp),
        "greedy_is_top": all(t.token == t.top_logprobs[0].token for t in lp),
        "all_nonpositive": all(t.logprob <= 1e-6 for t in lp),
    }

    r = chat(client, a.model, PROMPTS[3], n=2, temperature=0.8, seed=3, max_tokens=12)
    out["n2"] = [ch.message.content for ch in r.choices]

    # Eight clients at once, each streaming its own prompt; then each alone.
    together = [None] * len(PROMPTS)

    def one(i):
        together[i] = stream_text(client, a.model, PROMPTS[i], temperature=0, max_tokens=16)["text"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alone = [chat(client, a.model, p, temperature=0, max_tokens=16).choices[0].message.content
             for p in PROMPTS]
    out["concurrent"] = {"together": together, "alone": alone}

    # Errors, each followed by a working /health.
    errors = {
        "temperature": status_of(lambda: chat(client, a.model, "x", temperature=5)),
        "empty_messages": status_of(lambda: client.chat.completions.create(
            model=a.model, messages=[])),
        "unknown_model": status_of(lambda: chat(client, "no-such-model", "x")),
        "malformed_json": raw_request(host, "POST", "/v1/chat/completions", b"{nope",
                                      {"Content-Type": "application/json"})[0],
        "unknown_route": raw_request(host, "GET", "/v1/nothing")[0],
        "too_large": raw_request(host, "POST", "/v1/chat/completions",
                                 b"{\"x\": \"" + b"a" * (9 << 20) + b"\"}",
                                 {"Content-Type": "application/json"})[0],
        "too_long_prompt": status_of(lambda: chat(client, a.model, "word " * 20000,
                                                  max_tokens=4)),
    }
    out["errors"] = errors
    out["health_after_errors"] = json.loads(raw_request(host, "GET", "/health")[1])

    # A client that goes away mid-stream: its slot must come free.
    url = urllib.parse.urlparse(host)
    body = json.dumps({"model": a.model, "stream": True, "max_tokens": 2000, "temperature": 0.9,
                       "messages": [{"role": "user", "content": "Tell me a very long story."}]}
                      ).encode()
    s = socket.create_connection((url.hostname, url.port), timeout=60)
    s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
               f"\r\nAuthorization: Bearer {a.api_key}\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body)
    got = b""
    while got.count(b"data: ") < 3:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    polls = 0
    busy = None
    while polls < 600:
        health = json.loads(raw_request(host, "GET", "/health")[1])
        busy = health["slots_processing"]
        if busy == 0:
            break
        polls += 1
        threading.Event().wait(0.05)
    out["disconnect"] = {"events_before_close": got.count(b"data: "), "slots_busy_after": busy,
                         "next_request": chat(client, a.model, PROMPTS[5],
                                              **greedy).choices[0].finish_reason}
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
