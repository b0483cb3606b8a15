// Tokenizer: special-token partitioning, encode / decode, and the streaming detokenizer.
#include "hearth/tokenizer.h"

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <cstdio>
#include <fmt/format.h>

namespace hearth {

void SpecialMatcher::add(std::string_view text, int32_t id) {
    if (text.empty()) {
        return;
    }
    int32_t node = 0;
    for (const char c : text) {
        const uint8_t byte = static_cast<uint8_t>(c);
        auto& kids = nodes_[static_cast<size_t>(node)].kids;
        auto it = std::lower_bound(kids.begin(), kids.end(), std::pair<uint8_t, int32_t>{byte, -1});
        if (it != kids.end() && it->first == byte) {
            node = it->second;
            continue;
        }
        const auto child = static_cast<int32_t>(nodes_.size());
        kids.insert(it, {byte, child});
        nodes_.push_back(Node{});
        node = child;
    }
    auto& leaf = nodes_[static_cast<size_t>(node)];
    if (leaf.token < 0) {
        leaf.token = id;
    }
    const uint8_t first = static_cast<uint8_t>(text[0]);
    first_[first >> 6] |= uint64_t{1} << (first & 63);
}

namespace {

// gpt-oss's o200k_harmony vocabulary, as llama.cpp reads it: a reply is several messages
// (<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>final<|message|>…), so
// the headers' tokens and <|end|> are text the reply's reader needs (the reasoning splitter),
// and only <|return|> or <|call|> ends generation.
bool is_harmony_vocabulary(const TextIndex& text_to_id) {
    return text_to_id.contains("<|return|>") && text_to_id.contains("<|call|>") &&
           text_to_id.contains("<|end|>") && text_to_id.contains("<|channel|>");
}

} // namespace

Result<void> Tokenizer::Impl::finish() {
    const size_t n = texts.size();
    for (size_t i = 0; i < n; ++i) {
        const TokenType type = types[i];
        const bool special = type == TokenType::control || type == TokenType::user_defined ||
                             type == TokenType::unknown;
        if (special && texts[i].size() > kMaxSpecialTokenBytes) {
            return fail(ErrorCode::bad_format,
                        "token " + std::to_string(i) + " is a special token of " +
                            std::to_string(texts[i].size()) + " bytes; at most " +
                            std::to_string(kMaxSpecialTokenBytes) +
                            " are accepted (special tokens are looked for at every position "
                            "of a text)");
        }
    }
    pieces.assign(n, {});
    // A loader that looked tokens up while reading the merges indexed the texts already.
    if (text_to_id.empty()) {
        text_to_id.build(texts);
    }
    std::vector<uint8_t> byte_level(n, 0); // 1: a normal token whose piece is its bytes
    byte_tokens.fill(-1);
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int32_t>(i);
        const std::string& text = texts[i];
        const TokenType type = types[i];
        if (type == TokenType::control || type == TokenType::user_defined ||
            type == TokenType::unknown) {
            specials.add(text, id);
        }
        std::string& piece = pieces[i];
        if (kind == TokenizerKind::spm || spm_style) {
            unsigned byte = 0;
            if (type == TokenType::byte && std::sscanf(text.c_str(), "<0x%02X>", &byte) == 1) {
                piece.assign(1, static_cast<char>(byte));
            } else if (type == TokenType::control) {
                piece = text;
            } else {
                for (size_t p = 0; p < text.size();) {
                    if (text.compare(p, 3, "\xE2\x96\x81") == 0) { // U+2581 ▁
                        piece.push_back(' ');
                        p += 3;
                    } else {
                        piece.push_back(text[p++]);
                    }
                }
            }
            continue;
        }
        // Byte-level: a normal token's characters each stand for one byte.
        bool decodable =
            type == TokenType::normal || type == TokenType::undefined || type == TokenType::unused;
        // Decoded in place: a vector of code points per token was an allocation per token.
        for (size_t p = 0; decodable && p < text.size();) {
            char32_t cp = 0;
            const size_t length = unicode::decode_utf8(text, p, cp);
            const auto byte = length == 0 ? std::nullopt : unicode_to_byte(cp);
            decodable = byte.has_value();
            if (decodable) {
                piece.push_back(static_cast<char>(*byte));
                p += length;
            }
        }
        if (!decodable) {
            piece = text;
        } else {
            byte_level[i] = 1;
        }
    }
    if (kind == TokenizerKind::bpe && !spm_style) {
        bytes_to_id.build(pieces, [&](size_t i) { return byte_level[i] != 0; });
    }
    if (spm_style) {
        for (int b = 0; b < 256; ++b) {
            if (auto id = text_to_id.find(fmt::format("<0x{:02X}>", b))) {
                byte_tokens[static_cast<size_t>(b)] = *id;
            }
        }
    } else if (kind == TokenizerKind::bpe) {
        for (int b = 0; b < 256; ++b) {
            std::string spelled;
            unicode::append_utf8(spelled, byte_to_unicode(static_cast<uint8_t>(b)));
            if (auto id = text_to_id.find(spelled)) {
                byte_tokens[static_cast<size_t>(b)] = *id;
            }
        }
    }
    // End of generation: EOS, EOT, and the end-of-turn tokens llama.cpp recognises by text.
    eog.assign(n, 0);
    for (const auto& id : {eos, eot}) {
        if (id && valid(*id)) {
            eog[static_cast<size_t>(*id)] = 1;
        }
    }
    for (const char* name : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                             "<|endoftext|>", "<|eom_id|>", "<EOT>"}) {
        if (auto id = text_to_id.find(name)) {
            eog[static_cast<size_t>(*id)] = 1;
            if (!eot && std::string_view(name) != "<|endoftext|>" &&
                std::string_view(name) != "<|eom_id|>") {
                eot = *id;
            }
        }
    }
    if (spm_style) { // gemma4: a turn ends at <turn|>, a tool call at <|tool_response>
        for (const char* name : {"<turn|>", "<|tool_response>"}) {
            if (auto id = text_to_id.find(name)) {
                eog[static_cast<size_t>(*id)] = 1;
            }
        }
        if (auto id = text_to_id.find("<turn|>")) {
            eot = *id;
        }
    }
    for (const char* shown : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
        if (auto id = text_to_id.find(shown)) {
            types[static_cast<size_t>(*id)] = TokenType::user_defined;
        }
    }
    if (is_harmony_vocabulary(text_to_id)) {
        const int32_t end = *text_to_id.find("<|end|>");
        eog[static_cast<size_t>(end)] = 0;
        types[static_cast<size_t>(end)] = TokenType::user_defined;
        for (const char* name : {"<|return|>", "<|call|>"}) {
            eog[static_cast<size_t>(*text_to_id.find(name))] = 1;
        }
        if (eot == end) {
            eot = *text_to_id.find("<|return|>");
        }
    }
    return {};
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
    const Impl& m = *impl_;
    if (text.size() > kMaxEncodeBytes) {
        return fail(ErrorCode::invalid_argument,
                    "the text to tokenize is " + std::to_string(text.size()) +
                        " bytes; at most 16 MiB (" + std::to_string(kMaxEncodeBytes) +
                        " bytes) is tokenized at once");
    }
    if (const auto bad = unicode::find_invalid_utf8(text)) {
        return fail(ErrorCode::invalid_argument,
                    "text to tokenize is not valid UTF-8 (at byte " + std::to_string(*bad) + ")");
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (options.add_special && m.add_bos && m.bos) {
        out.push_back(*m.bos);
    }
    bool after_special = true; // SentencePiece: a dummy-prefix space starts each text fragment
    std::string scratch;
    const auto encode_text = [&](std::string_view fragment) -> Result<void> {
        if (fragment.empty()) {
            return {};
        }
        if (m.kind == TokenizerKind::bpe) {
            return m.bpe_text(fragment, out);
        }
        std::string_view input = fragment;
        if (m.add_space_prefix && after_special) {
            scratch.assign(1, ' ');
            scratch.append(fragment);
            input = scratch;
        }
        after_special = false;
        return m.spm->encode(input, out);
    };
    const auto allowed = [&](int32_t id) {
        const TokenType type = m.types[static_cast<size_t>(id)];
        return type == TokenType::user_defined || options.parse_special;
    };
    size_t start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        if (m.specials.may_start(static_cast<uint8_t>(text[pos]))) {
            if (const auto found = m.specials.match(text, pos, allowed)) {
                if (auto r = encode_text(text.substr(start, pos - start)); !r) {
                    return std::unexpected(r.error());
                }
                out.push_back(found->first);
                after_special = true;
                pos += found->second;
                start = pos;
                continue;
            }
        }
        ++pos;
    }
    if (auto r = encode_text(text.substr(start)); !r) {
        return std::unexpected(r.error());
    }
    if (options.add_special && m.add_eos && m.eos) {
        out.push_back(*m.eos);
    }
    return out;
}

namespace {

// Appends the bytes of one token for decoding; `strip_space` tracks SentencePiece's
// dummy prefix (set at the start and after each special token).
void append_piece(const Tokenizer::Impl& m, int32_t id, const DecodeOptions& options,
                  bool& strip_space, std::string& out) {
    if (!m.valid(id)) {
        return;
    }
    const TokenType type = m.types[static_cast<size_t>(id)];
    const bool special =
        type == TokenType::control || type == TokenType::user_defined || type == TokenType::unknown;
    if (type == TokenType::control && options.skip_special) {
        strip_space = true;
        return;
    }
    std::string_view piece = m.pieces[static_cast<size_t>(id)];
    if (special) {
        out.append(piece);
        strip_space = true;
        return;
    }
    if (piece.empty()) {
        return;
    }
    if (strip_space && m.kind == TokenizerKind::spm && m.strip_prefix_on_decode &&
        piece[0] == ' ') {
        piece.remove_prefix(1);
    }
    strip_space = false;
    out.append(piece);
}

// Bytes at the end of `text` that may still become a character when more bytes arrive.
size_t held_tail(std::string_view text) {
    return text.size() - unicode::complete_utf8_prefix(text);
}

} // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, DecodeOptions options) const {
    std::string out;
    bool strip_space = true;
    for (const int32_t id : ids) {
        append_piece(*impl_, id, options, strip_space, out);
    }
    return unicode::sanitize_utf8(out);
}

std::string Tokenizer::token_to_piece(int32_t id) const {
    return impl_->valid(id) ? impl_->pieces[static_cast<size_t>(id)] : std::string{};
}

std::optional<int32_t> Tokenizer::bos_id() const {
    return impl_->bos;
}
std::optional<int32_t> Tokenizer::eos_id() const {
    return impl_->eos;
}
std::optional<int32_t> Tokenizer::eot_id() const {
    return impl_->eot;
}
std::optional<int32_t> Tokenizer::pad_id() const {
    return impl_->pad;
}
std::optional<int32_t> Tokenizer::unk_id() const {
    return impl_->unk;
}
bool Tokenizer::add_bos() const {
    return impl_->add_bos;
}
bool Tokenizer::add_eos() const {
    return impl_->add_eos;
}
bool Tokenizer::add_space_prefix() const {
    return impl_->add_space_prefix;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
    return impl_->valid(id) && impl_->eog[static_cast<size_t>(id)] != 0;
}

bool Tokenizer::is_special(int32_t id) const {
    const TokenType type = token_type(id);
    return type == TokenType::control || type == TokenType::user_defined ||
           type == TokenType::unknown;
}

bool Tokenizer::is_control(int32_t id) const {
    return token_type(id) == TokenType::control;
}

TokenType Tokenizer::token_type(int32_t id) const {
    return impl_->valid(id) ? impl_->types[static_cast<size_t>(id)] : TokenType::undefined;
}

int32_t Tokenizer::n_vocab() const {
    return static_cast<int32_t>(impl_->texts.size());
}

const std::string& Tokenizer::token_text(int32_t id) const {
    static const std::string empty;
    return impl_->valid(id) ? impl_->texts[static_cast<size_t>(id)] : empty;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    return impl_->text_to_id.find(text);
}

TokenizerKind Tokenizer::kind() const {
    return impl_->kind;
}
std::string Tokenizer::pre_tokenizer() const {
    return impl_->pre;
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, DecodeOptions options,
                                           std::span<const int32_t> context)
    : tokenizer_(&tokenizer), options_(options) {
    // Decode the context as decode() would, keeping only its state: whether the next piece
    // loses its leading space, and the bytes of an unfinished last character.
    for (const int32_t id : context) {
        append_piece(*tokenizer_->impl_, id, options_, strip_space_, pending_);
        pending_.erase(0, pending_.size() - held_tail(pending_));
    }
    const std::string shown = unicode::sanitize_utf8(pending_); // U+FFFD only
    context_replacements_ = shown.size() / 3;
}

std::string StreamingDetokenizer::take_text(std::string_view bytes) {
    std::string out = unicode::sanitize_utf8(bytes);
    if (context_replacements_ > 0 && !out.empty()) {
        // The first text after the context starts with its unfinished character's bytes.
        size_t drop = 0;
        while (drop < context_replacements_ && out.compare(drop * 3, 3, "\xEF\xBF\xBD") == 0) {
            ++drop;
        }
        out.erase(0, drop * 3);
        context_replacements_ = 0;
    }
    return out;
}

std::string StreamingDetokenizer::push(int32_t id) {
    append_piece(*tokenizer_->impl_, id, options_, strip_space_, pending_);
    const size_t keep = held_tail(pending_);
    std::string out = take_text(std::string_view(pending_).substr(0, pending_.size() - keep));
    pending_.erase(0, pending_.size() - keep);
    return out;
}

std::string StreamingDetokenizer::flush() {
    std::string out = take_text(pending_);
    pending_.clear();
    strip_space_ = true;
    context_replacements_ = 0;
    return out;
}

} // namespace hearth
