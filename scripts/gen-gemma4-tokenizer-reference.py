#!/usr/bin/env python3
"""A tiny Gemma 4 vocabulary (`tokenizer.ggml.model = "gemma4"`: SentencePiece-style BPE) and
llama.cpp's token ids for a few texts on it, for tst_tokenizer's gemma4_matches_llama_cpp.

    LLAMA_CPP_LIB_PATH=/tmp/dense-llama-avx2/bin .venv/bin/python \\
        scripts/gen-gemma4-tokenizer-reference.py

Writes tests/data/tokenizer/gemma4-tiny-vocab.gguf (the hyper-parameters of
tests/data/arch/gemma4.gguf, which llama.cpp reads before the vocabulary, and no tensors) and
gemma4-tiny.ref.json: per text, the ids with BOS and special tokens parsed, as llama.cpp's
llama_tokenize gives them. The vocabulary: Gemma's special tokens, the 256 <0xNN> byte
tokens, ASCII letters, a few other characters (é, 世, the newline runs) and merges over
U+2581 (the space), so that spaces, merges, newline runs, characters without a token (byte
fallback) and special tokens are all exercised.
"""
import json
import pathlib
import sys

import gguf

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "tokenizer"
SP = "\u2581"

TEXTS = [
    "hello world",
    "  the cat sat on the mat",
    "Hello, World!\n\nthe end\n\n\n",
    "caf\u00e9 \u4e16\u754c \u00fcber",  # ü has no token: its bytes
    "<|turn>user\nhi there<turn|>\n<|turn>model\n",
    "a\n \nb  c   d",
    "",
]


def vocabulary():
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>", "<|channel>",
                "<channel|>"]
    tokens = list(specials)
    types = [gguf.TokenType.CONTROL] * len(specials)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        types.append(gguf.TokenType.BYTE)
    chars = [SP, "\n", "\n\n", ",", "!", "\u00e9", "\u4e16", "\u754c"] + \
        [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    merges = [(SP, "t"), ("h", "e"), (SP + "t", "he"), ("a", "t"), (SP, "c"), (SP + "c", "at"),
              ("l", "l"), ("he", "ll"), ("hell", "o"), (SP, "w"), ("o", "r"), (SP + "w", "or"),
              (SP + "wor", "l"), (SP + "worl", "d"), (SP, SP), ("e", "n"), ("en", "d"),
              (SP, "s"), (SP + "s", "at"), ("i", "n"), (SP, "m"), (SP + "m", "at")]
    for c in chars:
        tokens.append(c)
        types.append(gguf.TokenType.NORMAL)
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, [f"{a} {b}" for a, b in merges]


def write_vocab(path: pathlib.Path):
    source = gguf.GGUFReader(str(ROOT / "tests" / "data" / "arch" / "gemma4.gguf"))
    writer = gguf.GGUFWriter(path, "gemma4")
    for key, field in source.fields.items():
        if key.startswith("tokenizer.") or key.startswith("GGUF.") or key in (
                "general.architecture",):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, [field.contents(i) for i in range(len(field.data))],
                                 vtype, sub_type=field.types[1])
        else:
            writer.add_key_value(key, field.contents(), vtype)
    tokens, types, merges = vocabulary()
    writer.add_tokenizer_model("gemma4")
    writer.add_tokenizer_pre("gemma4")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_space_prefix(False)
    writer.add_add_bos_token(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> int:
    from llama_cpp import Llama

    path = DATA / "gemma4-tiny-vocab.gguf"
    write_vocab(path)
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    cases = []
    for text in TEXTS:
        ids = llm.tokenize(text.encode(), add_bos=True, special=True)
        pieces = b"".join(llm.detokenize([i]) for i in ids[1:])
        cases.append({"text": text, "ids": ids, "detokenized": pieces.decode("utf-8")})
        print(json.dumps(text), ids)
    (DATA / "gemma4-tiny.ref.json").write_text(json.dumps({"cases": cases}, indent=1,
                                                          ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
