#!/usr/bin/env python3
"""Generates tests/data/reasoning/harmony.json, the reference tst_reasoning checks gpt-oss's
"harmony" format against, with OpenAI's own renderer and parser (the PyPI package
openai-harmony):

- "renders": conversations rendered by openai-harmony for completion ("expected"), and by
  Python jinja2 in Hugging Face's environment with gpt-oss's chat template
  (tests/data/reasoning/openai-gpt-oss-120b.jinja, from llama.cpp's models/templates:
  "jinja2"). tst_reasoning renders the same conversations with Hearth's Jinja interpreter and
  compares with both: always with jinja2, and with openai-harmony wherever the template itself
  agrees with it ("template_matches_harmony"; where it does not, the template differs from
  OpenAI's renderer, which Hearth cannot change).
- "completions": sample replies as the model writes them, with the messages openai-harmony
  parses out of them (channel and text); tst_reasoning feeds each reply to Hearth's
  ReasoningSplitter, whole and split at every byte, and compares reasoning (the analysis
  channel) and answer (the other channels) with them.

openai-harmony insists on downloading the o200k_base vocabulary, and only PyPI is reachable
here. The harmony format does not depend on the vocabulary (its markers are special tokens with
fixed ids; the text between them is bytes), so this script gives it a byte-level vocabulary:
it writes one, and runs openai-harmony from a temporary copy whose expected checksum of the
vocabulary file is that of the byte-level one. Every rendering is decoded back to text, which is
what the comparison needs.

Run from the repository root (needs openai-harmony in the virtual environment):
    .venv/bin/python scripts/gen-reasoning-reference.py
"""
import base64
import datetime
import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import sys
import tempfile

from transformers.utils.chat_template_utils import _alias_reasoning_fields, _compile_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "reasoning" / "harmony.json"
O200K_SHA256 = b"446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
FROZEN_DATE = "2025-01-15"  # tst_reasoning freezes strftime_now to this day
FROZEN_NOW = datetime.datetime(2025, 1, 15, 10, 30, 45)  # 1736937045, as tst_chat_template
TEMPLATE = ROOT / "tests" / "data" / "templates" / "corpus" / "openai-gpt-oss-120b.jinja"


def render_template(messages, variables):
    template = _compile_jinja_template(TEMPLATE.read_text())
    template.environment.globals["strftime_now"] = lambda fmt: FROZEN_NOW.strftime(fmt)
    messages = _alias_reasoning_fields(json.loads(json.dumps(messages)))
    return template.render(messages=messages, tools=None, documents=None,
                           add_generation_prompt=True, bos_token="<|startoftext|>",
                           eos_token="<|return|>", **variables)


def load_harmony(workdir):
    """openai_harmony, loaded from a copy that accepts a byte-level vocabulary."""
    vocab_dir = workdir / "vocab"
    vocab_dir.mkdir()
    vocab = "".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256))
    (vocab_dir / "o200k_base.tiktoken").write_text(vocab)
    digest = hashlib.sha256(vocab.encode()).hexdigest().encode()
    spec = importlib.util.find_spec("openai_harmony")
    package = workdir / "openai_harmony"
    shutil.copytree(pathlib.Path(spec.origin).parent, package)
    for library in package.glob("*.so"):
        data = library.read_bytes()
        if data.count(O200K_SHA256) != 1:
            sys.exit(f"{library}: the o200k checksum is not where this script expects it")
        library.write_bytes(data.replace(O200K_SHA256, digest))
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(vocab_dir)
    sys.path.insert(0, str(workdir))
    import openai_harmony
    return openai_harmony


def renders(h, encoding):
    def system(effort=None):
        content = h.SystemContent.new().with_conversation_start_date(FROZEN_DATE)
        if effort:
            content = content.with_reasoning_effort(
                {"low": h.ReasoningEffort.LOW, "medium": h.ReasoningEffort.MEDIUM,
                 "high": h.ReasoningEffort.HIGH}[effort])
        return h.Message.from_role_and_content(h.Role.SYSTEM, content)

    def user(text):
        return h.Message.from_role_and_content(h.Role.USER, text)

    def developer(text):
        return h.Message.from_role_and_content(
            h.Role.DEVELOPER, h.DeveloperContent.new().with_instructions(text))

    def assistant(text, channel):
        return h.Message.from_role_and_content(h.Role.ASSISTANT, text).with_channel(channel)

    # (name, harmony messages, the chat template's messages, the template's variables)
    cases = [
        ("single_user", [system(), user("What is 2 + 2?")],
         [{"role": "user", "content": "What is 2 + 2?"}], {}),
        ("effort_low", [system("low"), user("Hi")],
         [{"role": "user", "content": "Hi"}], {"reasoning_effort": "low"}),
        ("effort_high_with_instructions",
         [system("high"), developer("Answer in French."), user("Bonjour ?")],
         [{"role": "system", "content": "Answer in French."},
          {"role": "user", "content": "Bonjour ?"}], {"reasoning_effort": "high"}),
        # Earlier turns' reasoning is dropped: openai-harmony drops analysis messages before
        # the last final one, and the template never renders a past turn's thinking.
        ("earlier_reasoning_dropped",
         [system(), user("What is 2 + 2?"), assistant("Simple sum.", "analysis"),
          assistant("4", "final"), user("And times 3?")],
         [{"role": "user", "content": "What is 2 + 2?"},
          {"role": "assistant", "content": "4", "thinking": "Simple sum."},
          {"role": "user", "content": "And times 3?"}], {}),
        ("unicode", [system(), user("Grüße, 世界! 🌍")],
         [{"role": "user", "content": "Grüße, 世界! 🌍"}], {}),
    ]
    out = []
    for name, conversation, messages, variables in cases:
        tokens = encoding.render_conversation_for_completion(
            h.Conversation.from_messages(conversation), h.Role.ASSISTANT)
        expected = encoding.decode(tokens)
        jinja2 = render_template(messages, variables)
        out.append({"name": name, "messages": messages, "variables": variables,
                    "expected": expected, "jinja2": jinja2,
                    "template_matches_harmony": jinja2 == expected})
    return out


COMPLETIONS = [
    ("analysis_then_final",
     "<|channel|>analysis<|message|>User asks 2+2. That is 4.<|end|>"
     "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>"),
    ("two_analysis_messages",
     "<|channel|>analysis<|message|>First thought.<|end|>"
     "<|start|>assistant<|channel|>analysis<|message|>Second thought.<|end|>"
     "<|start|>assistant<|channel|>final<|message|>Done.<|return|>"),
    ("final_only", "<|channel|>final<|message|>Hello there.<|return|>"),
    ("commentary_preamble",
     "<|channel|>analysis<|message|>Plan the reply.<|end|>"
     "<|start|>assistant<|channel|>commentary<|message|>Checking. <|end|>"
     "<|start|>assistant<|channel|>final<|message|>All good.<|return|>"),
    ("unicode_and_markup_text",
     "<|channel|>analysis<|message|>Grüße 世界 — a <think> tag is just text here.<|end|>"
     "<|start|>assistant<|channel|>final<|message|>🌍 <b>bold</b> </think><|return|>"),
    ("whitespace_around",
     "<|channel|>analysis<|message|>\n  thinking  \n<|end|>"
     "<|start|>assistant<|channel|>final<|message|>\n\nanswer\n<|return|>"),
]


def completions(h, encoding):
    out = []
    for name, text in COMPLETIONS:
        tokens = encoding.encode(text, allowed_special="all")
        messages = encoding.parse_messages_from_completion_tokens(tokens, h.Role.ASSISTANT)
        parsed = [{"channel": m.channel, "text": "".join(c.text for c in m.content)}
                  for m in messages]
        # What Hearth streams: the text before the end-of-generation token (<|return|> and
        # <|call|> end generation and are not part of the reply's text).
        streamed = text.removesuffix("<|return|>")
        out.append({"name": name, "reply": streamed, "messages": parsed})
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        h = load_harmony(pathlib.Path(tmp))
        encoding = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
        data = {
            "generated_by": "scripts/gen-reasoning-reference.py (openai-harmony "
                            + __import__("importlib.metadata").metadata.version("openai-harmony")
                            + ")",
            "frozen_date": FROZEN_DATE,
            "renders": renders(h, encoding),
            "completions": completions(h, encoding),
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['renders'])} renders, "
          f"{len(data['completions'])} completions")


if __name__ == "__main__":
    main()
