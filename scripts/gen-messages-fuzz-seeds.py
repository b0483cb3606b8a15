#!/usr/bin/env python3
"""Writes the seeds of the messages fuzzer (tests/fuzz/messages_seeds/, scripts/fuzz messages).

Run from the repository root:
    .venv/bin/python scripts/gen-messages-fuzz-seeds.py

Each seed is the text of a messages file as hearth-cli template render reads it, sometimes
followed by a NUL byte and the text of a tools file (tests/fuzz/messages_fuzz_input.h): the
conversations of the template goldens (scripts/gen-template-reference.py, CASES), then the
shapes real clients send that those do not cover (content as a list of parts, null content,
tool calls whose arguments are a string, numbers at the edges of 64 bits, odd roles) and a
few that are not messages at all.
"""
import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "fuzz" / "messages_seeds"


def reference_cases():
    spec = importlib.util.spec_from_file_location(
        "gen_template_reference", ROOT / "scripts" / "gen-template-reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}}}

EXTRA = {
    "content_parts": [{"role": "user", "content": [{"type": "text", "text": "Describe"},
                                                   {"type": "image"}]}],
    "null_content": [{"role": "user", "content": None}, {"role": "assistant", "content": None}],
    "string_arguments": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}}]}],
    "nested_arguments": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "",
                          "tool_calls": [{"id": 18446744073709551615, "function": {
                              "name": "lookup", "arguments": {"q": [1, {"a": [None, True]}],
                                                              "n": -9223372036854775808}}}]}],
    "numbers": [{"role": "user", "content": 9223372036854775807},
                {"role": "assistant", "content": 1.5e300}],
    "odd_roles": [{"role": "developer", "content": "d"}, {"role": "ipython", "content": "i"},
                  {"role": "", "content": ""}, {"content": "no role"}],
    "system_only": [{"role": "system", "content": "s"}],
    "empty_list": [],
    "not_a_list": {"role": "user", "content": "hi"},
    "strings_only": ["hi", "there"],
}


def main():
    SEEDS.mkdir(parents=True, exist_ok=True)
    for old in SEEDS.iterdir():
        old.unlink()
    seeds = {}
    for name, messages, _prompt, *rest in reference_cases():
        text = json.dumps(messages, ensure_ascii=False)
        tools = (rest[0] if rest else {}).get("tools")
        if tools is not None:
            text += "\0" + json.dumps(tools, ensure_ascii=False)
        seeds[name] = text
    for name, messages in EXTRA.items():
        seeds[name] = json.dumps(messages, ensure_ascii=False)
    seeds["tools_given"] = json.dumps(EXTRA["string_arguments"]) + "\0" + json.dumps([TOOL])
    seeds["tools_not_a_list"] = json.dumps(EXTRA["system_only"]) + "\0" + json.dumps(TOOL)
    seeds["tools_invalid"] = json.dumps(EXTRA["system_only"]) + "\0[{"
    seeds["invalid_json"] = '[{"role": "user", "content": "unterminated'
    for name, text in seeds.items():
        (SEEDS / f"{name}.json").write_bytes(text.encode("utf-8"))
    print(f"{len(seeds)} seeds in {SEEDS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
