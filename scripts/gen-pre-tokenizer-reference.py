#!/usr/bin/env python3
"""Reference data for tst_pre_tokenizer: llama.cpp's byte-level BPE pre-tokenizer regexes, code
point by code point, and the splits Python's `regex` module makes with them.

Two files in tests/data/tokenizer/:

- pre_tokenizer_patterns.json: for every `tokenizer.ggml.pre` name llama.cpp knows, its
  pre-tokenizer type and flags (ignore_merges, add_bos); for every type, the regexes of its
  `regex_exprs` and, where llama.cpp quotes it in a comment, the "original regex from
  tokenizer.json" it adapted. Each regex is written as its code points (and, for reading, as
  an ASCII-escaped string), so that no editor or tool can normalize a letter away. Extracted
  from llama.cpp's src/llama-vocab.cpp with --llama-vocab; otherwise the committed file is
  read as it is.
- pre_tokenizer_splits.json: a multilingual set of texts (written below with \\u escapes)
  and, for every type and form, the pieces the regexes split them into, computed here with
  `regex` from the code points above: each regex splits the pieces of the one before,
  keeping both its matches and the text between them ("isolated", as llama.cpp's
  unicode_regex_split and Hugging Face tokenizers' Split do); empty matches split nothing.

Regenerate (the venv of scripts/setup-reference-tools, with `regex`):

    .venv/bin/pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d /tmp/lcp
    tar -xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp \\
        llama_cpp_python-0.3.36/vendor/llama.cpp/src/llama-vocab.cpp
    .venv/bin/python scripts/gen-pre-tokenizer-reference.py \\
        --llama-vocab /tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp/src/llama-vocab.cpp \\
        --source "llama-cpp-python 0.3.36 sdist (PyPI), vendor/llama.cpp/src/llama-vocab.cpp"

Without --llama-vocab only the splits are recomputed.
"""
import argparse
import hashlib
import json
import pathlib
import re
import sys
import unicodedata

import regex

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests/data/tokenizer"
PATTERNS = DATA / "pre_tokenizer_patterns.json"
SPLITS = DATA / "pre_tokenizer_splits.json"

# Latin with accents (precomposed and combining), Greek (polytonic letters whose NFC form is
# another code point: U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A), Cyrillic, CJK, Arabic,
# Hindi, Thai, emoji with modifiers and ZWJ sequences, digits of several scripts, whitespace
# runs of several kinds, newlines, contractions, code.
TEXTS = [
    "Hello, World! Don't stop\u2014we'll see. I'M FINE, you'RE not; they'VE or they\u2019ve "
    "'quoted' it's O'Neil's.\n"
    "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve co\u00f6peration, \u00c5ngstr\u00f6m, "
    "fa\u00e7ade; cafe\u0301 and e\u0301\u0302\u0303 (combining), \ufb01ne \ufb02ow, "
    "\u01c5emal \u01c4 \u01c6, \u00b5s, \u00aa \u00ba.\n"
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac: \u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1"
    "\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5\u00b7 \u1f5f\u1f57 \u1f70\u1f71\u1f7c\u1f7d "
    "\u1fb3\u1fbc\u1fbe\u1fc3 \u1fd0\u1fd1\u1fd2\u1fd3 \u1fd6\u1fd9\u1fdb \u1fe0\u1fec "
    "\u1ff2\u1ffc \u2126\u212a\u212b versus \u03ce\u03b9\u0390\u038a\u03a9K\u00c5 "
    "\u0370\u0373\u037b\u03f5\u03f6\u03f7.\n"
    "\u0420\u0443\u0441\u0441\u043a\u0438\u0439: \u0421\u044a\u0435\u0448\u044c \u0436\u0435 "
    "\u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 "
    "\u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b"
    "\u043e\u043a. \u0401\u043b\u043a\u0430, \u0490\u0491 \u04c0.\n"
    "\u4e2d\u6587\uff1a\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6f22\u5b57\u30c6\u30b9\u30c8"
    "\u3067\u3059\u3002\u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca \ud55c\uad6d\uc5b4 "
    "\ud14d\uc2a4\ud2b8\u3002\u9fa5\u9fa6\u4e00\u0800\u3042 \u3131\u314f \uac00\ud7a3\ud7fb.\n"
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629: \u0645\u064e\u0631\u0652\u062d\u064e\u0628"
    "\u064b\u0627 \u0628\u0650\u0627\u0644\u0652\u0639\u064e\u0627\u0644\u064e\u0645 "
    "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660 \u060c \u06d4 \u061f\n"
    "\u0939\u093f\u0928\u094d\u0926\u0940: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941"
    "\u0928\u093f\u092f\u093e\u0964 \u0938\u0902\u0916\u094d\u092f\u093e \u096a\u0968 "
    "\u0914\u0930 \u0967\u0968\u0969\u096a\u0965\n"
    "\u0e44\u0e17\u0e22: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25"
    "\u0e01 \u0e51\u0e52\u0e53 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\n"
    "Emoji: \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
    "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea 1\ufe0f\u20e3 "
    "\u2764\ufe0f \U0001f642\U0001f643!\n"
    "Digits: 1234567890 12 345 6789 \u0661\u0662\u0663 \u0966\u0967\u0968 \u0e51\u0e52\u0e53 "
    "\uff11\uff12\uff13 \u00b2 \u00b3 \u00bd \u216b \u2177 \u3007 \u2460\u2461 "
    "\U0001d7ce\U0001d7cf 3.14159 1,000,000 -42 +7e10\n"
    "Whitespace:\t\ttabs   three spaces\u00a0nbsp\u3000ideographic\u2003em\u2028ls  \n\n\n"
    "  \r\n\r\nend   ",
    "   leading and trailing   ",
    "\n",
    "\r\n",
    "   ",
    " ",
    "a\u00a0\u00a0b \u00a0c",
    "x  \ty\t \n z",
    "'s's'S'll'LL'Ve 'd'D 'm'M 're're 't'T'x",
    "\uff21\uff22\uff23 \uff41\uff42\uff43 \uff28\uff45\uff4c\uff4c\uff4f\uff01",
    "\U00010400\U00010428 \U000104d8\U000104fb \U00010c80\U00010cc0 \U000118a0\U000118df "
    "\U0001e900\U0001e943 \U0001e922",
    "\u13a0\u13f5 \uab70\uabbf \u13f8\u13fd \u1c90\u1cba\u1cbd\u1cbf \u10a0\u10c5",
    "\u1d00\u1d2b \u1d6b\u1d77\u1d79\u1d9a \u2c00\u2c7b\u2c7e \u2ce4\u2ceb \ua640\ua66d "
    "\ua680\ua69b \ua722\ua76f\ua771\ua787 \ua78b\ua78e \ufb00\ufb06\ufb13\ufb17",
    "\u2102\u2107\u210a\u2113\u2115\u2119\u211d\u2124\u2128\u212d\u212f\u2134\u2139\u213c"
    "\u213f\u2145\u2149\u214e\u2183\u2184 \u0531\u0556 \u0561",
    "def f(x):\n    return x**2 + 1_000  # comment\n\n\tif a<=b and c!=d: pass\n",
    "...!!!???\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c (a|b) \u2018x\u2019 \u201cy\u201d",
    "1234567 a1b2c3 12a 1.5 \u00a0 99\u00a0bottles",
    "ABCdef GHI jklMNO HTTPServer XMLHttpRequest iPhone \u01c4\u01c5\u01c6 \u02b0\u02b2 "
    "\u1e9e\u00df CAF\u00c9 caf\u00c9",
    "e\u0301\u0301\u0301\u0301 \u0301\u0301 a\u0308\u0323 \u0915\u094d\u0937 "
    "\u0e01\u0e34\u0e4a \u05e9\u05c1\u05b8",
    "\U0001f469\U0001f3fe\u200d\U0001f4bb\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1 "
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f #\ufe0f\u20e3",
    "tab\tnewline\nreturn\rformfeed\fvtab\vnel\u0085end",
    "x\n\n\n\ny  \n  z\r\n\r\n\r\n",
]

CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd",
              "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc",
              "Cf", "Cs", "Co", "Cn"]


# --- extraction from llama-vocab.cpp ---------------------------------------------------------

ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def lex(source):
    """C++ tokens of `source`: ("str", value), ("comment", text) or ("punct", text)."""
    tokens = []
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            tokens.append(("comment", source[i + 2:end]))
            i = end
        elif source.startswith("/*", i):
            end = source.index("*/", i) + 2
            tokens.append(("comment", source[i + 2:end - 2]))
            i = end
        elif c == '"':
            value = []
            i += 1
            while source[i] != '"':
                if source[i] == "\\":
                    if source[i + 1] not in ESCAPES:
                        raise SystemExit(f"unexpected escape \\{source[i + 1]} in a literal")
                    value.append(ESCAPES[source[i + 1]])
                    i += 2
                else:
                    value.append(source[i])
                    i += 1
            i += 1
            if tokens and tokens[-1][0] == "str":  # adjacent literals concatenate
                tokens[-1] = ("str", tokens[-1][1] + "".join(value))
            else:
                tokens.append(("str", "".join(value)))
        elif c == "'":
            end = i + 1
            while source[end] != "'":
                end += 2 if source[end] == "\\" else 1
            tokens.append(("punct", source[i:end + 1]))
            i = end + 1
        elif c.isspace():
            i += 1
        elif c.isalnum() or c == "_":
            end = i
            while end < n and (source[end].isalnum() or source[end] == "_"):
                end += 1
            tokens.append(("punct", source[i:end]))
            i = end
        else:
            tokens.append(("punct", c))
            i += 1
    return tokens


def literals_in_comment(text):
    """The C string literals quoted inside a comment (prose apostrophes are no char literals)."""
    found = []
    i = text.find('"')
    while i >= 0:
        value = []
        i += 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPES:
                value.append(ESCAPES[text[i + 1]])
                i += 2
            else:
                value.append(text[i])
                i += 1
        if i >= len(text):
            break  # unterminated: not a literal
        found.append("".join(value))
        i = text.find('"', i + 1)
    return found


def extract_types(source):
    """{type: {"patterns": [...], "original": [...] or absent}} from llm_tokenizer_bpe's switch."""
    start = source.index("struct llm_tokenizer_bpe : llm_tokenizer {")
    end = source.index("std::vector<std::string> regex_exprs;", start)
    tokens = lex(source[start:end])
    types = {}
    labels = []
    originals = []  # quoted in comments of the current case
    expect_original = False  # a comment announced one; the literal comes in the next comment
    patterns = None
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "comment":
            found = literals_in_comment(text)
            if "original regex from tokenizer.json" in text:
                originals += found
                expect_original = not found
            elif expect_original and found:
                originals += found
                expect_original = False
        elif patterns is not None:  # inside `regex_exprs = { ... }`
            if kind == "str":
                patterns.append(text)
            elif text == "}":
                for label in labels:
                    types[label] = {"patterns": patterns}
                    if originals:
                        types[label]["original"] = originals
                patterns = None
        elif text == "case" and tokens[i + 1][1].startswith("LLAMA_VOCAB_PRE_TYPE_"):
            labels.append(tokens[i + 1][1][len("LLAMA_VOCAB_PRE_TYPE_"):])
            i += 1
        elif text == "default" and tokens[i + 1][1] == ":":
            labels.append("DEFAULT")
        elif text == "regex_exprs" and tokens[i + 1][1] == "=" and tokens[i + 2][1] == "{":
            patterns = []
            i += 2
        elif text == "break":
            labels, originals, expect_original = [], [], False
        i += 1
    return types


def extract_names(source):
    """{name: {"type", "ignore_merges", "add_bos"}} from llama_vocab's load(): the chain of
    `tokenizer_pre == "..."` tests for byte-level BPE vocabularies."""
    start = source.index("if (type == LLAMA_VOCAB_TYPE_BPE) {")
    end = source.index("unknown pre-tokenizer type", start)
    region = source[start:end]
    names = {}
    branch = re.compile(r"if\s*\(((?:\s*tokenizer_pre\s*==\s*\"[^\"]*\"\s*(?:\|\|)?)+)\)\s*\{"
                        r"([^{}]*)\}")
    for cond, body in branch.findall(region):
        kind = re.search(r"pre_type\s*=\s*LLAMA_VOCAB_PRE_TYPE_(\w+)", body)
        if not kind:
            raise SystemExit(f"no pre_type in the branch for {cond.strip()}")
        for name in re.findall(r"\"([^\"]*)\"", cond):
            names[name] = {
                "type": kind.group(1),
                "ignore_merges": bool(re.search(r"ignore_merges\s*=\s*true", body)),
                "add_bos": bool(re.search(r"add_bos\s*=\s*true", body)),
            }
    return names


def pattern_entry(pattern):
    return {"regex": pattern, "code_points": [ord(c) for c in pattern]}


def write_patterns(vocab_path, source_note):
    raw = pathlib.Path(vocab_path).read_bytes()
    source = raw.decode("utf-8")
    types = extract_types(source)
    names = extract_names(source)
    missing = sorted({v["type"] for v in names.values()} - set(types))
    if missing:
        raise SystemExit(f"types named in load() without regexes: {missing}")
    document = {
        "source": {
            "what": source_note,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "regexes": "llm_tokenizer_bpe's constructor: regex_exprs per LLAMA_VOCAB_PRE_TYPE_*; "
                       "\"original\" is the regex from tokenizer.json that a comment there "
                       "quotes where llama.cpp adapted it",
            "names": "llama_vocab::impl::load: tokenizer_pre == \"...\" -> pre_type, "
                     "ignore_merges, add_bos",
        },
        "names": dict(sorted(names.items())),
        "types": {
            name: {form: [pattern_entry(p) for p in patterns] for form, patterns in entry.items()}
            for name, entry in sorted(types.items())
        },
    }
    PATTERNS.write_text(json.dumps(document, ensure_ascii=True, indent=1) + "\n")
    print(f"wrote {PATTERNS.name}: {len(names)} names, {len(types)} types")


# --- reference splits --------------------------------------------------------------------------

def split(texts, patterns):
    """The isolated split of each text by each regex in turn."""
    compiled = [regex.compile(p) for p in patterns]
    result = []
    for text in texts:
        pieces = [text]
        for rx in compiled:
            out = []
            for piece in pieces:
                gap = 0
                for m in rx.finditer(piece):
                    if m.end() == m.start():
                        continue
                    if m.start() > gap:
                        out.append(piece[gap:m.start()])
                    out.append(m.group())
                    gap = m.end()
                if gap < len(piece):
                    out.append(piece[gap:])
            pieces = out
        if "".join(pieces) != text:
            raise SystemExit("a split lost text")
        result.append(pieces)
    return result


def check_categories():
    """Every code point of the texts is assigned, and `regex` (whose Unicode version may be
    newer) gives it the general category of Python's unicodedata, from which the engine's
    tables are generated: a difference there would be a Unicode version gap, not a bug."""
    for text in TEXTS:
        for c in text:
            category = unicodedata.category(c)
            if category == "Cn":
                raise SystemExit(f"U+{ord(c):04X} is unassigned in Unicode "
                                 f"{unicodedata.unidata_version}")
            if not regex.fullmatch(r"\p{" + category + "}", c):
                raise SystemExit(f"U+{ord(c):04X}: regex and unicodedata disagree on {category}")


def write_splits():
    check_categories()
    document = json.loads(PATTERNS.read_text())
    splits = {}
    skipped = {}
    for name, forms in document["types"].items():
        for form, entries in forms.items():
            patterns = ["".join(chr(cp) for cp in e["code_points"]) for e in entries]
            try:
                pieces = split(TEXTS, patterns)
            except regex.error as e:
                skipped[f"{name}/{form}"] = str(e)
                continue
            splits.setdefault(name, {})[form] = pieces
    out = {
        "generator": "scripts/gen-pre-tokenizer-reference.py",
        "regex_version": regex.__version__,
        "unicode_version": unicodedata.unidata_version,
        "texts": TEXTS,
        "splits": splits,
        "not_compiled_by_python_regex": skipped,
    }
    SPLITS.write_text(json.dumps(out, ensure_ascii=True, indent=1) + "\n")
    print(f"wrote {SPLITS.name}: {len(TEXTS)} texts, {sum(len(f) for f in splits.values())} "
          f"pattern sets; regex could not compile {sorted(skipped) or 'none'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llama-vocab", help="llama.cpp's src/llama-vocab.cpp")
    parser.add_argument("--source", default="llama.cpp src/llama-vocab.cpp",
                        help="where --llama-vocab came from, recorded in the reference")
    args = parser.parse_args()
    if args.llama_vocab:
        write_patterns(args.llama_vocab, args.source)
    write_splits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
