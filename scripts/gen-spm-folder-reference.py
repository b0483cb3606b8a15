#!/usr/bin/env python3
"""Trains a small SentencePiece model (BPE with byte fallback, the Llama 2 / Mistral
recipe) on Genesis and writes a Hugging Face-style folder for Tokenizer::from_hf_folder:
tests/data/tokenizer/spm-folder/{tokenizer.model, tokenizer_config.json, expected.json}.
expected.json holds, for every string of tests/data/tokenizer/corpus.json that is valid
UTF-8, the ids the sentencepiece library gives (BOS first, as add_bos_token asks) and its
decoding of them.

    .venv/bin/python scripts/gen-spm-folder-reference.py
"""
import io
import json
import pathlib

import sentencepiece as spm

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "tokenizer" / "spm-folder"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "tests" / "data" / "generation" / "genesis.txt").read_text()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines()), model_writer=model, model_type="bpe",
        vocab_size=600, byte_fallback=True, character_coverage=1.0, split_digits=True,
        add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, user_defined_symbols=["<|user|>"],
        num_threads=1, minloglevel=2)
    (OUT / "tokenizer.model").write_bytes(model.getvalue())
    (OUT / "tokenizer_config.json").write_text(json.dumps(
        {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
         "unk_token": "<unk>"}, indent=1) + "\n")
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    corpus = json.loads((ROOT / "tests" / "data" / "tokenizer" / "corpus.json").read_text())
    strings = corpus["texts"]
    cases = []
    for s in strings:
        if isinstance(s, dict):
            s = s.get("text", "")
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            continue
        ids = sp.encode(s)
        cases.append({"text": s, "ids": [sp.bos_id()] + ids, "decoded": sp.decode(ids)})
    # \u escapes: a literal U+FEFF inside a string is dropped by some JSON readers (Qt's).
    (OUT / "expected.json").write_text(json.dumps({"cases": cases}, ensure_ascii=True) + "\n")
    print(f"wrote {len(cases)} cases, vocabulary {sp.get_piece_size()}")


if __name__ == "__main__":
    main()
