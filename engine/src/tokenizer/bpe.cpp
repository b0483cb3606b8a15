// Byte-level BPE: pre-tokenizer regexes by `tokenizer.ggml.pre`, GPT-2's byte mapping, and
// the merge loop (lowest rank first, leftmost on ties, as Hugging Face tokenizers does).
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <functional>

namespace hearth {

namespace {

// The patterns are llama.cpp's (src/llama-vocab.cpp, llm_tokenizer_bpe), character for character;
// tst_pre_tokenizer checks each against tests/data/tokenizer/pre_tokenizer_patterns.json, taken
// from that source. Letters outside ASCII are written as \u escapes: a copy through an editor
// or a tool must not NFC-normalize them (U+1F7D GREEK SMALL LETTER OMEGA WITH OXIA becomes
// U+03CE, and the range U+1F5F-U+1F7D is reversed).

// GPT-2 and most byte-level BPE vocabularies (llama.cpp leaves out tokenizer.json's trailing
// |\s+: a lone whitespace before a non-space that matches nothing stays a piece of its own).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3 (llama.cpp spells the case-insensitive contractions out).
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Tekken: the regex of tokenizer.json that llama.cpp quotes, not its lookahead adaptation
// (which stands in [^a-z] / [^A-Z] for the case classes, and so splits "Café" differently).
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBloom = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";
constexpr const char* kCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
// Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, ... letters, as DeepSeek lists them.
constexpr const char* kDeepseekLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
    "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
    "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
    "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC"
    "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE"
    "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A"
    "\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr const char* kDeepseekPunctuation =
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";

struct PreTokenizer {
    const char* names; // '|'-separated aliases, as tokenizer.ggml.pre spells them
    std::vector<std::string> patterns;
    bool ignore_merges = false;
    bool add_bos = false;
};

// llama.cpp's table (llama_vocab::impl::load maps the names, llm_tokenizer_bpe the patterns).
const std::vector<PreTokenizer>& pre_tokenizers() {
    static const std::vector<PreTokenizer> table = {
        {"default", {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
        {"llama3|llama-v3|llama-bpe|falcon3|pixtral", {kLlama3}, true, true},
        {"dbrx|smaug-bpe", {kLlama3}},
        {"deepseek-llm",
         {"[\r\n]", kDeepseekLetters, kDeepseekPunctuation, R"(\s+$)", kCjk, R"(\p{N}+)"}},
        {"deepseek-coder", {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}},
        {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
        {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {R"(\p{N})", kGpt2}},
        {"gpt-2|phi-2|mpt|olmo|jais|roberta-bpe|jina-es|jina-de|jina-v1-en|jina-v2-es|"
         "jina-v2-de|jina-v2-code|gigachat",
         {kGpt2}},
        {"qwen2|stablelm2|megrez|deepseek-r1-qwen", {kQwen2}},
        {"chatglm-bpe", {kLlama3}},
        {"poro-chat|bloom|gpt3-finnish", {kBloom}},
        {"viking", {kBloom, R"(\p{N})"}},
        {"tekken", {kTekken}, true, true},
    };
    return table;
}

const PreTokenizer* find_pre_tokenizer(std::string_view name) {
    for (const auto& p : pre_tokenizers()) {
        std::string_view names = p.names;
        while (!names.empty()) {
            const size_t bar = names.find('|');
            if (names.substr(0, bar) == name) {
                return &p;
            }
            names = bar == std::string_view::npos ? std::string_view{} : names.substr(bar + 1);
        }
    }
    return nullptr;
}

} // namespace

Result<std::vector<std::string>> pre_tokenizer_patterns(std::string_view name) {
    if (const auto* p = find_pre_tokenizer(name.empty() ? "default" : name)) {
        return p->patterns;
    }
    return fail(ErrorCode::unsupported,
                "unknown pre-tokenizer '" + unicode::excerpt(name) +
                    "' (tokenizer.ggml.pre); known: default, llama-bpe, qwen2, smollm, gpt-2, "
                    "starcoder, deepseek-llm, deepseek-coder, falcon, mpt, refact, olmo, "
                    "phi-2, tekken, bloom and their aliases");
}

std::vector<std::string> pre_tokenizer_names() {
    std::vector<std::string> all;
    for (const auto& p : pre_tokenizers()) {
        std::string_view names = p.names;
        while (!names.empty()) {
            const size_t bar = names.find('|');
            all.emplace_back(names.substr(0, bar));
            names = bar == std::string_view::npos ? std::string_view{} : names.substr(bar + 1);
        }
    }
    return all;
}

bool pre_tokenizer_ignores_merges(std::string_view name) {
    const auto* p = find_pre_tokenizer(name);
    return p && p->ignore_merges;
}

bool pre_tokenizer_adds_bos(std::string_view name) {
    const auto* p = find_pre_tokenizer(name);
    return p && p->add_bos;
}

// Printable bytes map to themselves; the rest to U+0100 onwards, in byte order.
char32_t byte_to_unicode(uint8_t byte) {
    static const std::array<char32_t, 256> table = [] {
        std::array<char32_t, 256> t{};
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            t[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
        }
        return t;
    }();
    return table[byte];
}

std::optional<uint8_t> unicode_to_byte(char32_t cp) {
    static const std::array<int16_t, 324> table = [] {
        std::array<int16_t, 324> t{};
        t.fill(-1);
        for (int b = 0; b < 256; ++b) {
            t[byte_to_unicode(static_cast<uint8_t>(b))] = static_cast<int16_t>(b);
        }
        return t;
    }();
    if (cp >= table.size() || table[cp] < 0) {
        return std::nullopt;
    }
    return static_cast<uint8_t>(table[cp]);
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
    if (ignore_merges) {
        if (auto id = bytes_to_id.find(word)) {
            out.push_back(*id);
            return;
        }
    }
    struct Symbol {
        int32_t id;
        int32_t prev;
        int32_t next;
    };
    struct Candidate {
        int32_t rank;
        int32_t left;
        int32_t left_id;
        int32_t right_id;
        int32_t result;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : left > o.left;
        }
    };
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Candidate> heap;
    symbols.clear();
    const auto push = [&](int32_t id) {
        if (id < 0) {
            return; // a byte the vocabulary lacks is dropped, as tokenizers does without <unk>
        }
        const auto n = static_cast<int32_t>(symbols.size());
        symbols.push_back({id, n - 1, n + 1});
    };
    if (spm_style) {
        // llama.cpp's gemma4 fix: a run of newlines that is a token stays whole.
        if (word.find_first_not_of('\n') == std::string_view::npos) {
            if (auto id = text_to_id.find(word)) {
                out.push_back(*id);
                return;
            }
        }
        // UTF-8 characters; one without a token becomes its bytes' <0xNN> tokens, which no
        // merge joins (llama.cpp falls back to them after merging, the same tokens).
        for (size_t p = 0; p < word.size();) {
            char32_t cp = 0;
            const size_t len = std::max<size_t>(1, unicode::decode_utf8(word, p, cp));
            if (auto id = text_to_id.find(word.substr(p, len))) {
                push(*id);
            } else {
                for (size_t b = p; b < p + len && b < word.size(); ++b) {
                    push(byte_tokens[static_cast<uint8_t>(word[b])]);
                }
            }
            p += len;
        }
    } else {
        for (const char c : word) {
            push(byte_tokens[static_cast<uint8_t>(c)]);
        }
    }
    if (symbols.empty()) {
        return;
    }
    symbols.back().next = -1;
    if (symbols.size() == 1) {
        out.push_back(symbols[0].id);
        return;
    }
    heap.clear();
    const auto later = std::greater<>{}; // min-heap: lowest rank, then leftmost, on top
    const auto consider = [&](int32_t left) {
        if (left < 0) {
            return;
        }
        const int32_t right = symbols[static_cast<size_t>(left)].next;
        if (right < 0) {
            return;
        }
        const int32_t a = symbols[static_cast<size_t>(left)].id;
        const int32_t b = symbols[static_cast<size_t>(right)].id;
        const Merge* merge = merges.find(static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 |
                                         static_cast<uint32_t>(b));
        if (merge) {
            heap.push_back({merge->rank, left, a, b, merge->result});
            std::push_heap(heap.begin(), heap.end(), later);
        }
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) {
        consider(i);
    }
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& left = symbols[static_cast<size_t>(c.left)];
        if (left.id != c.left_id || left.next < 0) {
            continue; // stale: the left symbol changed
        }
        Symbol& right = symbols[static_cast<size_t>(left.next)];
        if (right.id != c.right_id) {
            continue;
        }
        left.id = c.result;
        right.id = -1; // dead
        left.next = right.next;
        if (right.next >= 0) {
            symbols[static_cast<size_t>(right.next)].prev = c.left;
        }
        consider(left.prev);
        consider(c.left);
    }
    for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
        out.push_back(symbols[static_cast<size_t>(i)].id);
    }
}

Result<void> pre_tokenize(std::span<const Regex> regexes, std::span<const char32_t> text,
                          std::vector<std::pair<size_t, size_t>>& words) {
    thread_local std::vector<std::pair<size_t, size_t>> next;
    words.assign(1, {0, text.size()});
    for (const Regex& regex : regexes) {
        next.clear();
        for (const auto& [b, e] : words) {
            if (auto ok = regex.split(text.subspan(b, e - b), b, next); !ok) {
                return ok;
            }
        }
        words.swap(next);
    }
    return {};
}

Result<void> Tokenizer::Impl::bpe_text(std::string_view text, std::vector<int32_t>& out) const {
    thread_local std::string escaped;
    if (spm_style) { // llama.cpp's llama_escape_whitespace: every space becomes U+2581
        escaped.clear();
        for (const char c : text) {
            escaped += c == ' ' ? std::string_view("\xE2\x96\x81") : std::string_view(&c, 1);
        }
        text = escaped;
    }
    // Code points and their byte offsets (offsets[i] is where code point i starts).
    thread_local std::vector<char32_t> cps;
    thread_local std::vector<size_t> offsets;
    cps.clear();
    offsets.clear();
    size_t pos = 0;
    while (pos < text.size()) {
        char32_t cp = 0;
        size_t len = unicode::decode_utf8(text, pos, cp);
        if (len == 0) { // callers validate; be safe anyway
            cp = 0xFFFD;
            len = 1;
        }
        cps.push_back(cp);
        offsets.push_back(pos);
        pos += len;
    }
    offsets.push_back(text.size());

    thread_local std::vector<std::pair<size_t, size_t>> words;
    if (auto ok = pre_tokenize(pre_regexes, cps, words); !ok) {
        return ok;
    }
    for (const auto& [b, e] : words) {
        bpe_word(text.substr(offsets[b], offsets[e] - offsets[b]), out);
    }
    return {};
}

} // namespace hearth
