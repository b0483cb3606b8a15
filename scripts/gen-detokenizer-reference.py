#!/usr/bin/env python3
"""Reference texts for generated tokens decoded in the context of their prompt, for
tst_detokenizer: tests/data/tokenizer/detokenizer.ref.json.

For each vocabulary and text, the text's ids are cut at every token boundary (byte-fallback
and byte-level tokens included, so some cuts fall inside a character): the ids before the
cut are the prompt (after BOS where the vocabulary adds one), the ids after it the generated
tokens. The reference is decode(prompt + generated) minus decode(prompt), with special tokens
skipped; where the prompt ends inside a character, decode(prompt) ends with U+FFFD there and
the character belongs to the generated text (the texts' common prefix is taken).

- llama-spm (ggml-vocab-llama-spm.gguf, Llama 2's vocabulary): the sentencepiece library on a
  ModelProto built from the vocabulary as Llama 2's tokenizer.model is (BPE, byte fallback,
  dummy prefix, identity normalizer), and transformers' GGUF conversion (LlamaTokenizerFast);
  the two must agree wherever the prompt ends on a character boundary.
- gpt-2 (ggml-vocab-gpt-2.gguf): Hugging Face tokenizers, byte-level BPE with the ByteLevel
  decoder.

    .venv/bin/python scripts/gen-detokenizer-reference.py
"""
import importlib.util
import json
import os
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data/tokenizer"

_spec = importlib.util.spec_from_file_location("gtr", ROOT / "scripts/gen-tokenizer-reference.py")
gtr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gtr)

SPM_TEXTS = [
    "Once upon a time Mensumes were here.",
    "Hello world! How are you?",
    "  two leading spaces and   runs of them",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u4e2d\u6587\U0001f642 emoji "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",
    "\u00dcn\u00efc\u00f6d\u00e9: \U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521"
    "\U0001d522 \u2713",
    "line\nbreaks\n\n and\ttabs",
    "x = 1 + 2; // code",
    "ends with a space ",
    "\U0001f642",
]
GPT2_TEXTS = [
    "Hello world! How are you?",
    "\u65e5\u672c\u8a9e \U0001f642 \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u00dcn\u00efc\u00f6d\u00e9 \U0001d518\U0001d52b\U0001d526",
    "  spaces\n\nnewlines\ttabs",
    "don't stop",
]


def continuation(full, prompt):
    """decode(prompt + generated) minus decode(prompt): what follows their common prefix; the
    prompt's text may only differ from that prefix by the U+FFFD of a cut character."""
    common = os.path.commonprefix([full, prompt])
    if prompt[len(common):].strip("\ufffd"):
        raise SystemExit(f"decode(prompt) {prompt!r} is not a prefix of {full!r}")
    return full[len(common):]


def spm_processor(meta):
    import sentencepiece
    tokens, scores, types = (meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                             meta["tokenizer.ggml.token_type"])
    proto = b""
    for text, score, ttype in zip(tokens, scores, types):
        proto += gtr._pb_bytes(1, gtr._pb_bytes(1, text.encode()) + gtr._pb_float(2, score) +
                               gtr._pb_int(3, ttype))
    ids = {k: meta.get(f"tokenizer.ggml.{k}_token_id", -1)
           for k in ("unknown", "bos", "eos", "padding")}
    # trainer_spec: model_type BPE (3 = 2), vocab size, byte_fallback (35), special ids.
    proto += gtr._pb_bytes(2, gtr._pb_int(3, 2) + gtr._pb_int(4, len(tokens)) + gtr._pb_int(35, 1) +
                           gtr._pb_int(40, ids["unknown"]) + gtr._pb_int(41, ids["bos"]) +
                           gtr._pb_int(42, ids["eos"]) + gtr._pb_int(43, ids["padding"]))
    # normalizer_spec: identity, add_dummy_prefix, no remove_extra_whitespaces, escape spaces.
    proto += gtr._pb_bytes(3, gtr._pb_bytes(1, b"identity") + gtr._pb_int(3, 1) +
                           gtr._pb_int(4, 0) + gtr._pb_int(5, 1))
    sp = sentencepiece.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto)
    return sp


def hf_llama(meta):
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer)
    tdict = {name: meta[f"tokenizer.{key}"]
             for key, name in GGUF_TOKENIZER_MAPPING["tokenizer"].items()
             if f"tokenizer.{key}" in meta}
    tok, _ = convert_gguf_tokenizer(meta["general.architecture"], tdict)
    return tok


def cuts(full_ids, bos):
    """(prompt, generated) for every cut of the ids with at least one generated token."""
    head = [bos] if bos is not None else []
    return [(head + full_ids[:k], full_ids[k:]) for k in range(len(full_ids))]


def llama_spm_cases():
    meta = gtr.read_tokenizer_metadata(DATA / "ggml-vocab-llama-spm.gguf")
    sp = spm_processor(meta)
    hf = hf_llama(meta)
    bos = meta["tokenizer.ggml.bos_token_id"]
    cases = []
    for text in SPM_TEXTS:
        full_ids = sp.encode(text)
        if sp.decode(full_ids) != text.strip(" ") and sp.decode(full_ids) != text:
            raise SystemExit(f"sentencepiece does not round-trip {text!r}")
        for prompt, generated in cuts(full_ids, bos):
            want = continuation(sp.decode(prompt + generated), sp.decode(prompt))
            if sp.decode(prompt).endswith("\ufffd"):
                # transformers' ByteFallback decoder turns a whole run of byte tokens into
                # U+FFFD when it ends inside a character, the complete ones before included.
                cases.append({"prompt": prompt, "generated": generated, "text": want})
                continue
            hf_want = continuation(hf.decode(prompt + generated, skip_special_tokens=True),
                                   hf.decode(prompt, skip_special_tokens=True))
            if hf_want != want:
                raise SystemExit(f"sentencepiece {want!r} and transformers {hf_want!r} differ "
                                 f"for {prompt} + {generated}")
            cases.append({"prompt": prompt, "generated": generated, "text": want})
    return cases


def gpt2_cases():
    meta = gtr.read_tokenizer_metadata(DATA / "ggml-vocab-gpt-2.gguf")
    tokens = meta["tokenizer.ggml.tokens"]
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    cases = []
    for text in GPT2_TEXTS:
        full_ids = tok.encode(text).ids
        if tok.decode(full_ids) != text:
            raise SystemExit(f"tokenizers does not round-trip {text!r}")
        for prompt, generated in cuts(full_ids, None):
            if not prompt:
                continue  # a prompt has at least one token
            want = continuation(tok.decode(prompt + generated), tok.decode(prompt))
            cases.append({"prompt": prompt, "generated": generated, "text": want})
    return cases


def main():
    out = {
        "generator": "scripts/gen-detokenizer-reference.py",
        "vocabularies": {
            "ggml-vocab-llama-spm.gguf": llama_spm_cases(),
            "ggml-vocab-gpt-2.gguf": gpt2_cases(),
        },
    }
    path = DATA / "detokenizer.ref.json"
    path.write_text(json.dumps(out, ensure_ascii=True, indent=0) + "\n")
    print(f"wrote {path.name}: " + ", ".join(f"{k} {len(v)} cases"
                                             for k, v in out["vocabularies"].items()))


if __name__ == "__main__":
    main()
