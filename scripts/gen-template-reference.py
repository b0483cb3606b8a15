#!/usr/bin/env python3
"""Generates the chat-template goldens of tests/data/templates/expected/ with Python jinja2 in the
environment Hugging Face's apply_chat_template uses (transformers' own _compile_jinja_template).

Run from the repository root:
    .venv/bin/python scripts/gen-template-reference.py [--corpus /work/shared/testdata/templates]

For every template of tests/data/templates/corpus/ (refreshed from --corpus when given) and every
built-in template of templates/index.json, it renders each conversation of CASES below and writes
tests/data/templates/expected/<name>.json: the cases, each with the expected text or the expected
exception (type and message). strftime_now is frozen to FROZEN_NOW so that the goldens are stable;
tst_chat_template freezes Hearth's clock to the same instant.
"""
import argparse
import datetime
import json
import pathlib
import shutil
import sys

from transformers.utils.chat_template_utils import _alias_reasoning_fields, _compile_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "templates"
FROZEN_NOW = datetime.datetime(2025, 1, 15, 10, 30, 45)  # Hearth: RenderOptions::now_unix
FROZEN_NOW_UNIX = 1736937045  # the same instant, read as UTC

BOS, EOS = "<s>", "</s>"

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Hello! What is 2 + 2?"}
ASSISTANT = {"role": "assistant", "content": "2 + 2 = 4."}
USER2 = {"role": "user", "content": "And times 3?"}

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}]
TOOL_CALL = {"role": "assistant", "content": "", "tool_calls": [{
    "id": "call_1", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]}

CASES = [
    ("single_user", [USER], True),
    ("single_user_no_prompt", [USER], False),
    ("system_user", [SYSTEM, USER], True),
    ("several_turns", [USER, ASSISTANT, USER2], True),
    ("system_several_turns", [SYSTEM, USER, ASSISTANT, USER2], True),
    ("assistant_last", [USER, ASSISTANT], False),
    ("system_assistant_last", [SYSTEM, USER, ASSISTANT], False),
    ("unicode", [{"role": "user", "content": "Grüße, 世界! 🌍 café — naïve Ωmega"},
                 {"role": "assistant", "content": "Привет! こんにちは 👋"},
                 {"role": "user", "content": "ok 😀"}], True),
    ("newlines_and_spaces", [{"role": "system", "content": "  Be brief.\n\n"},
                             {"role": "user", "content": "\n  line one\nline two  \n\n"}], True),
    ("jinja_looking_text", [{"role": "user", "content": "{{ 1 + 1 }} {% if x %}y{% endif %} {# c #} {{'\"}}"}], True),
    ("empty_content", [{"role": "user", "content": ""}], True),
    # Beyond the plain conversations: tools, a tool-call round trip, and extra variables.
    ("tools", [SYSTEM, {"role": "user", "content": "Weather in Paris?"}], True, {"tools": TOOLS}),
    ("tool_call_round", [{"role": "user", "content": "Weather in Paris?"}, TOOL_CALL,
                         {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
                          "content": "{\"temperature_c\": 21}"}], True, {"tools": TOOLS}),
    ("thinking_off", [USER], True, {"enable_thinking": False}),
    ("reasoning_content", [USER, {"role": "assistant", "content": "4.",
                                  "reasoning_content": "2 + 2 is 4."}, USER2], True),
    ("thinking_on", [SYSTEM, USER, ASSISTANT, USER2], True, {"enable_thinking": True}),
]


def render(source, messages, add_generation_prompt, variables=None):
    template = _compile_jinja_template(source)
    template.environment.globals["strftime_now"] = lambda fmt: FROZEN_NOW.strftime(fmt)
    try:
        # As render_jinja_template calls it: tools and documents are None when not given.
        variables = dict(variables or {})
        # render_jinja_template copies reasoning under its other names first.
        messages = _alias_reasoning_fields(json.loads(json.dumps(messages)))
        text = template.render(messages=messages,
                               tools=variables.pop("tools", None), documents=None,
                               add_generation_prompt=add_generation_prompt, bos_token=BOS,
                               eos_token=EOS, **variables)
        return {"expected": text}
    except Exception as error:  # noqa: BLE001 - every failure is a golden too
        return {"error": {"type": type(error).__name__, "message": str(error)}}


def cases_for(source):
    out = []
    for name, messages, add_generation_prompt, *rest in CASES:
        variables = rest[0] if rest else {}
        case = {"name": name, "messages": messages, "add_generation_prompt": add_generation_prompt,
                "bos_token": BOS, "eos_token": EOS, "variables": variables}
        case.update(render(source, messages, add_generation_prompt, variables))
        out.append(case)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=pathlib.Path, help="refresh corpus/ from this folder first")
    args = parser.parse_args()
    corpus = DATA / "corpus"
    expected = DATA / "expected"
    corpus.mkdir(parents=True, exist_ok=True)
    expected.mkdir(parents=True, exist_ok=True)
    if args.corpus:
        for path in sorted(args.corpus.glob("*.jinja")):
            shutil.copyfile(path, corpus / path.name)

    sources = {path.stem: path.read_text(encoding="utf-8") for path in sorted(corpus.glob("*.jinja"))}
    index = json.loads((ROOT / "templates" / "index.json").read_text(encoding="utf-8"))
    for entry in index["templates"]:
        sources["builtin-" + entry["name"]] = (ROOT / "templates" / entry["file"]).read_text(encoding="utf-8")

    for old in expected.glob("*.json"):
        old.unlink()
    summary = {"ok": 0, "error": 0}
    for name, source in sources.items():
        golden = {
            "template": name,
            "frozen_now_unix": FROZEN_NOW_UNIX,
            "regenerate": ".venv/bin/python scripts/gen-template-reference.py",
            "cases": cases_for(source),
        }
        for case in golden["cases"]:
            summary["error" if "error" in case else "ok"] += 1
        (expected / f"{name}.json").write_text(
            json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(sources)} templates, {summary['ok']} rendered cases, {summary['error']} error cases",
          file=sys.stderr)


if __name__ == "__main__":
    main()
