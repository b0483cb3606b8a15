#!/usr/bin/env python3
"""Reference token ids for tests/data/tokenizer/corpus.json, from Hugging Face `tokenizers`
(and transformers' GGUF tokenizer conversion), for tst_tokenizer.

Usage:
  .venv/bin/python scripts/gen-tokenizer-reference.py \
      --smollm2 ~/.local/share/hearth/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --gemma3 /path/to/gemma-3-270m-q4_k_m.gguf

How each reference is built (no torch needed):
- SmolLM2: a `tokenizers.Tokenizer` assembled from the GGUF's vocabulary and merges with the
  pre-tokenizer, decoder and added tokens of HuggingFaceTB/SmolLM2-135M-Instruct's
  tokenizer.json (Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=False)],
  ByteLevel decoder, its 17 special tokens). transformers' GGUF conversion is not used for
  it because it drops the Digits step (`tokenizer.ggml.pre = smollm` is not in its table).
- Gemma 3: transformers' own GGUF tokenizer conversion
  (`transformers.integrations.gguf.gguf_tokenizer_mapping.convert_gguf_tokenizer`), fed with
  the metadata read by the `gguf` package (transformers' reader needs torch).
  With --gemma3 the script also writes tests/data/tokenizer/gemma3-vocab.gguf: the tokenizer
  metadata of that file and no tensors.

For Gemma 3 each case also holds "sentencepiece": the ids the `sentencepiece` library itself
gives without special-token parsing, from a ModelProto built here from the same vocabulary
(whitespace-run tokens spelled with U+2581 as in Gemma's tokenizer.model, identity
normalizer, no dummy prefix, byte fallback). Where transformers' conversion and sentencepiece
disagree (long runs of spaces: the converter turns the user-defined whitespace tokens into BPE
merges), tst_tokenizer accepts the sentencepiece ids.

For every corpus text it records: "plain" (no special tokens added, special tokens in the text
not parsed), "special" (special tokens in the text parsed), "with_special" (special tokens
parsed and BOS/EOS added as the tokenizer's post-processor does), and "roundtrip" (whether
decoding "plain" gives the text back).
"""
import argparse
import json
import pathlib
import struct
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests/data/tokenizer"


def read_tokenizer_metadata(path):
    reader = gguf.GGUFReader(str(path))
    meta = {}
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") and key != "general.architecture":
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            meta[key] = [field.contents(i) for i in range(len(field.data))]
        else:
            meta[key] = field.contents()
    return meta


def smollm2_tokenizer(meta):
    tokens = meta["tokenizer.ggml.tokens"]
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False)
                for t, ty in zip(tokens, meta["tokenizer.ggml.token_type"]) if ty == 3]
    tok.add_special_tokens(specials)
    return tok, False  # SmolLM2 adds no BOS (tokenizer.ggml.add_bos_token = false)


def gemma3_tokenizer(meta):
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer
    tdict = {name: meta[f"tokenizer.{key}"] for key, name in GGUF_TOKENIZER_MAPPING["tokenizer"].items()
             if f"tokenizer.{key}" in meta}
    tok, _ = convert_gguf_tokenizer(meta["general.architecture"], tdict)
    # The backend tokenizer alone adds no BOS; transformers' GemmaTokenizer does when
    # tokenizer_config says add_bos_token, which it takes from tokenizer.ggml.add_bos_token.
    return tok, bool(meta.get("tokenizer.ggml.add_bos_token", True))


def _varint(v):
    v &= (1 << 64) - 1
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def _pb_int(field, v):
    return _varint(field << 3) + _varint(v)


def _pb_bytes(field, b):
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def _pb_float(field, x):
    return _varint(field << 3 | 5) + struct.pack("<f", x)


def sentencepiece_ids(meta, texts):
    """Plain ids from the sentencepiece library (no protobuf package needed: the ModelProto
    wire format is written by hand; field numbers from sentencepiece_model.proto)."""
    import sentencepiece
    tokens, scores, types = (meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                             meta["tokenizer.ggml.token_type"])
    proto = b""
    for text, score, ttype in zip(tokens, scores, types):
        if " " in text and not text.strip():
            text = "\u2581" * len(text)
        proto += _pb_bytes(1, _pb_bytes(1, text.encode()) + _pb_float(2, score) + _pb_int(3, ttype))
    ids = {k: meta.get(f"tokenizer.ggml.{k}_token_id", -1) for k in ("unknown", "bos", "eos", "padding")}
    proto += _pb_bytes(2, _pb_int(3, 2) + _pb_int(4, len(tokens)) + _pb_int(35, 1) + _pb_int(40, ids["unknown"])
                       + _pb_int(41, ids["bos"]) + _pb_int(42, ids["eos"]) + _pb_int(43, ids["padding"]))
    proto += _pb_bytes(3, _pb_bytes(1, b"identity") + _pb_int(3, 0) + _pb_int(4, 0) + _pb_int(5, 1))
    sp = sentencepiece.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto)
    return [sp.encode(text) for text in texts]


def write_vocab_gguf(meta, src, out):
    reader = gguf.GGUFReader(str(src))
    writer = gguf.GGUFWriter(str(out), meta["general.architecture"])
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.ggml."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_array(key, [field.contents(i) for i in range(len(field.data))])
        elif vtype == gguf.GGUFValueType.STRING:
            writer.add_string(key, field.contents())
        elif vtype == gguf.GGUFValueType.BOOL:
            writer.add_bool(key, field.contents())
        else:
            writer.add_uint32(key, int(field.contents()))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def references(tok, texts, bos_id):
    cases = []
    for text in texts:
        tok.encode_special_tokens = True
        plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        special = tok.encode(text, add_special_tokens=False).ids
        with_special = tok.encode(text, add_special_tokens=True).ids
        if bos_id is not None and with_special[:1] != [bos_id]:
            with_special = [bos_id] + with_special
        decoded = tok.decode(plain, skip_special_tokens=False)
        cases.append({"plain": plain, "special": special, "with_special": with_special,
                      "roundtrip": decoded == text})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm2", type=pathlib.Path)
    ap.add_argument("--gemma3", type=pathlib.Path)
    args = ap.parse_args()
    texts = json.loads((DATA / "corpus.json").read_text())["texts"]
    import tokenizers
    for name, path, build in [("smollm2", args.smollm2, smollm2_tokenizer), ("gemma3", args.gemma3, gemma3_tokenizer)]:
        if path is None:
            continue
        meta = read_tokenizer_metadata(path)
        tok, add_bos = build(meta)
        cases = references(tok, texts, meta.get("tokenizer.ggml.bos_token_id") if add_bos else None)
        if name == "gemma3":
            for case, ids in zip(cases, sentencepiece_ids(meta, texts)):
                case["sentencepiece"] = ids
        out = {"source": path.name, "reference": f"tokenizers {tokenizers.__version__}",
               "regenerate": "scripts/gen-tokenizer-reference.py", "cases": cases}
        (DATA / f"{name}.ref.json").write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{name}: {len(cases)} cases, {sum(c['roundtrip'] for c in cases)} round-trip")
        if name == "gemma3":
            write_vocab_gguf(meta, path, DATA / "gemma3-vocab.gguf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
