// The Tokenizer's data: the vocabulary, the special-token matcher, and the state of the
// byte-level BPE or SentencePiece encoder. Private to engine/src/tokenizer.
#pragma once

#include "hearth/tokenizer.h"
#include "tokenizer/flat_index.h"
#include "tokenizer/regex.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hearth {

// Finds special tokens inside text: the longest one starting at a position (leftmost first).
class SpecialMatcher {
public:
    void add(std::string_view text, int32_t id);
    // The longest token starting at text[pos] for which allowed(id) holds, and its length.
    template <class Allowed>
    std::optional<std::pair<int32_t, size_t>> match(std::string_view text, size_t pos,
                                                    const Allowed& allowed) const;
    bool may_start(uint8_t byte) const { return (first_[byte >> 6] >> (byte & 63)) & 1; }
    bool empty() const { return nodes_.size() <= 1; }

private:
    struct Node {
        int32_t token = -1;
        std::vector<std::pair<uint8_t, int32_t>> kids; // sorted by byte
    };
    std::vector<Node> nodes_{Node{}};
    uint64_t first_[4] = {0, 0, 0, 0};
};

template <class Allowed>
std::optional<std::pair<int32_t, size_t>> SpecialMatcher::match(std::string_view text, size_t pos,
                                                                const Allowed& allowed) const {
    std::optional<std::pair<int32_t, size_t>> best;
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
        const auto& kids = nodes_[static_cast<size_t>(node)].kids;
        const uint8_t byte = static_cast<uint8_t>(text[i]);
        auto it = std::lower_bound(kids.begin(), kids.end(), std::pair<uint8_t, int32_t>{byte, -1});
        if (it == kids.end() || it->first != byte) {
            break;
        }
        node = it->second;
        const int32_t token = nodes_[static_cast<size_t>(node)].token;
        if (token >= 0 && allowed(token)) {
            best = std::pair<int32_t, size_t>{token, i + 1 - pos};
        }
    }
    return best;
}

// A SentencePiece model built from the vocabulary and run by the sentencepiece library.
class SpmModel {
public:
    struct Spec {
        bool byte_fallback = false;
        bool remove_extra_whitespaces = false;
        std::optional<int32_t> unk, bos, eos, pad;
    };
    // `texts`, `scores` and `types` have one entry per token (already validated).
    static Result<std::shared_ptr<const SpmModel>> build(const std::vector<std::string>& texts,
                                                         const std::vector<float>& scores,
                                                         const std::vector<TokenType>& types,
                                                         const Spec& spec);
    // A serialized model (tokenizer.model) used as it is.
    static Result<std::shared_ptr<const SpmModel>> load(std::string_view serialized);
    ~SpmModel();

    // Appends the ids of `text` (no special-token handling, no dummy prefix added here
    // unless the loaded model's own normalizer adds one).
    Result<void> encode(std::string_view text, std::vector<int32_t>& out) const;

    // For models loaded from a file: the vocabulary it holds.
    int32_t size() const;
    std::string piece(int32_t id) const;
    float score(int32_t id) const;
    TokenType type(int32_t id) const;

    struct Processor;

private:
    SpmModel();
    std::unique_ptr<Processor> processor_;
};

struct Tokenizer::Impl {
    TokenizerKind kind = TokenizerKind::bpe;
    std::string pre; // BPE pre-tokenizer name

    // Per token.
    std::vector<std::string> texts; // as the vocabulary spells it
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> pieces; // the bytes it decodes to
    std::vector<uint8_t> eog;        // 1 for end-of-generation tokens
    TextIndex text_to_id;            // over texts

    std::optional<int32_t> bos, eos, eot, pad, unk;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;
    // Decoding drops the space that starts a text fragment: set with add_space_prefix, and
    // for a tokenizer.model whose own normalizer adds the dummy prefix.
    bool strip_prefix_on_decode = false;

    SpecialMatcher specials;

    // Byte-level BPE.
    using Merge = MergeTable::Merge;
    MergeTable merges;                      // (left id << 32 | right id) -> merge
    std::array<int32_t, 256> byte_tokens{}; // token of each single byte, or -1
    TextIndex bytes_to_id;                  // over pieces: raw bytes -> normal token
    std::vector<Regex> pre_regexes;
    bool ignore_merges = false;
    // gemma4 (`tokenizer.ggml.model = "gemma4"`): SentencePiece-style BPE, as llama.cpp runs it.
    // Spaces become U+2581 before the merges, which join UTF-8 characters (not GPT-2's byte
    // characters); a character without a token falls back to its bytes' <0xNN> tokens
    // (byte_tokens); a word of newlines only is its own token where the vocabulary has one.
    bool spm_style = false;

    // SentencePiece.
    std::shared_ptr<const SpmModel> spm;

    bool valid(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < texts.size(); }

    // Fills pieces, text_to_id, the special matcher and the end-of-generation set; for BPE
    // also byte_tokens and bytes_to_id. Called once the vocabulary and ids are set. Fails
    // for a special token longer than kMaxSpecialTokenBytes.
    Result<void> finish();
    // Appends the BPE tokens of one pre-tokenized word.
    void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
    // Appends the BPE tokens of plain text (pre-tokenized here).
    Result<void> bpe_text(std::string_view text, std::vector<int32_t>& out) const;
};

// Splits `text` into words with a pre-tokenizer's regexes, applied one after the other (each
// one splits the pieces the previous ones produced); [begin, end) offsets into `text`.
Result<void> pre_tokenize(std::span<const Regex> regexes, std::span<const char32_t> text,
                          std::vector<std::pair<size_t, size_t>>& words);
// Regular expressions of a BPE pre-tokenizer, applied one after the other by pre_tokenize().
// Fails with `unsupported` naming an unknown name.
Result<std::vector<std::string>> pre_tokenizer_patterns(std::string_view name);
// Every name the pre-tokenizer table knows (aliases included), in table order.
std::vector<std::string> pre_tokenizer_names();
// Llama 3-style vocabularies skip merging for words that are whole tokens.
bool pre_tokenizer_ignores_merges(std::string_view name);
// llama.cpp's add_bos default for a BPE pre-tokenizer when the GGUF does not say.
bool pre_tokenizer_adds_bos(std::string_view name);

// GPT-2's byte <-> printable code point mapping.
char32_t byte_to_unicode(uint8_t byte);
std::optional<uint8_t> unicode_to_byte(char32_t cp);

} // namespace hearth
