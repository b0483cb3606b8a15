// Byte-level BPE: pre-tokenizer regexes by `tokenizer.ggml.pre`, GPT-2's byte mapping, and
// the merge loop (lowest rank first, leftmost on ties, as Hugging Face tokenizers does).
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <functional>

namespace hearth {

namespace {

// GPT-2 / most byte-level BPE vocabularies.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (llama.cpp spells the case-insensitive contractions out).
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBloom = R"( ?[^(\s|.,!?…。，、।۔،)]+)";
constexpr const char* kCjk = "[一-龥ࠀ-一가-퟿]+";
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)";

struct PreTokenizer {
    const char* names; // '|'-separated aliases
    std::vector<std::string> patterns;
    bool ignore_merges = false;
    bool add_bos = false;
};

// From llama.cpp's llama-vocab.cpp (llm_tokenizer_bpe) and the models' tokenizer.json.
const std::vector<PreTokenizer>& pre_tokenizers() {
    static const std::vector<PreTokenizer> table = {
        {"default", {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
        {"llama3|llama-v3|llama-bpe|falcon3|dbrx|smaug-bpe|pixtral", {kLlama3}, true, true},
        {"deepseek-llm",
         {"[\r\n]", kDeepseekLetters, R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", kCjk,
          R"(\p{N}+)"}},
        {"deepseek-coder", {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}},
        {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
        {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {R"(\p{N})", kGpt2}},
        {"gpt-2|gpt2|phi-2|gpt-neox|mpt|olmo|jais|roberta-bpe|jina-es|jina-de|jina-v1-en|"
         "jina-v2-es|jina-v2-de|jina-v2-code|gigachat",
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
                "unknown pre-tokenizer '" + std::string(name) +
                    "' (tokenizer.ggml.pre); known: default, llama-bpe, qwen2, smollm, gpt-2, "
                    "starcoder, deepseek-llm, deepseek-coder, falcon, mpt, refact, gpt-neox, "
                    "phi-2, tekken, bloom and their aliases");
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
        if (auto it = bytes_to_id.find(std::string(word)); it != bytes_to_id.end()) {
            out.push_back(it->second);
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
    for (const char c : word) {
        const int32_t id = byte_tokens[static_cast<uint8_t>(c)];
        if (id < 0) {
            continue; // a byte the vocabulary lacks is dropped, as tokenizers does without <unk>
        }
        const auto n = static_cast<int32_t>(symbols.size());
        symbols.push_back({id, n - 1, n + 1});
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
        const auto it = merges.find(static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 |
                                    static_cast<uint32_t>(b));
        if (it != merges.end()) {
            heap.push_back({it->second.rank, left, a, b, it->second.result});
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

void Tokenizer::Impl::bpe_text(std::string_view text, std::vector<int32_t>& out) const {
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

    std::vector<std::pair<size_t, size_t>> words{{0, cps.size()}};
    std::vector<std::pair<size_t, size_t>> next;
    for (const Regex& regex : pre_regexes) {
        next.clear();
        for (const auto& [b, e] : words) {
            regex.split(std::span<const char32_t>(cps).subspan(b, e - b), b, next);
        }
        words.swap(next);
    }
    for (const auto& [b, e] : words) {
        bpe_word(text.substr(offsets[b], offsets[e] - offsets[b]), out);
    }
}

} // namespace hearth
