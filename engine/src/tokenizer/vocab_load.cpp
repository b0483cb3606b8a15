// Building a Tokenizer from GGUF metadata (`tokenizer.ggml.*`), with the checks that turn an
// inconsistent vocabulary into an error naming the key, instead of a crash later.
#include "hearth/gguf.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <cstdio>
#include <set>

namespace hearth {

namespace {

std::unexpected<Error> bad(std::string message) {
    return fail(ErrorCode::bad_format, std::move(message));
}

Result<const GgufArray*> get_array(const GgufHeader& header, const char* key, bool required) {
    const GgufValue* value = header.find(key);
    if (!value) {
        if (required) {
            return bad(std::string("the vocabulary has no ") + key);
        }
        return nullptr;
    }
    const GgufArray* array = value->as_array();
    if (!array) {
        return bad(std::string(key) + " is a " + std::string(gguf_type_name(value->type)) +
                   ", not an array");
    }
    return array;
}

// An optional special-token id, checked against the vocabulary size.
Result<std::optional<int32_t>> get_id(const GgufHeader& header, const char* key, size_t n_vocab,
                                      std::optional<int32_t> fallback) {
    const GgufValue* value = header.find(key);
    if (!value) {
        if (fallback && static_cast<size_t>(*fallback) >= n_vocab) {
            return std::optional<int32_t>{};
        }
        return fallback;
    }
    const auto id = value->as_int();
    if (!id) {
        return bad(std::string(key) + " is not an integer");
    }
    if (*id < 0 || static_cast<uint64_t>(*id) >= n_vocab) {
        return bad(std::string(key) + " = " + std::to_string(*id) +
                   " is out of range: the vocabulary has " + std::to_string(n_vocab) + " tokens");
    }
    return std::optional<int32_t>{static_cast<int32_t>(*id)};
}

Result<void> load_merges(const GgufHeader& header, Tokenizer::Impl& m) {
    auto merges = get_array(header, "tokenizer.ggml.merges", true);
    if (!merges) {
        return std::unexpected(merges.error());
    }
    const GgufArray& items = **merges;
    if (items.size() > static_cast<size_t>(INT32_MAX)) {
        return bad("tokenizer.ggml.merges has too many entries");
    }
    // Sized for one merge per token (real lists have about that many); a longer list grows
    // the table only as far as its merges prove valid.
    m.merges.reserve(std::min(items.size(), m.texts.size()));
    const auto where = [](size_t i) { return "tokenizer.ggml.merges[" + std::to_string(i) + "]"; };
    std::string joined; // left + right, reused: no allocation per merge
    for (size_t i = 0; i < items.size(); ++i) {
        const auto merge = items.string_at(i);
        if (!merge) {
            return bad(where(i) + " is not a string");
        }
        const size_t space = merge->find(' ', 1);
        if (space == std::string_view::npos) {
            return bad(where(i) + " '" + unicode::excerpt(*merge) +
                       "' is not two tokens separated by a space");
        }
        const std::string_view left = merge->substr(0, space);
        const std::string_view right = merge->substr(space + 1);
        joined.assign(left).append(right);
        const auto a = m.text_to_id.find(left);
        const auto b = m.text_to_id.find(right);
        const auto c = m.text_to_id.find(joined);
        for (const auto& [id, name] : {std::pair{a, left}, std::pair{b, right}}) {
            if (!id) {
                return bad(where(i) + " '" + unicode::excerpt(*merge) + "' names unknown token '" +
                           unicode::excerpt(name) + "'");
            }
        }
        if (!c) {
            return bad(where(i) + " '" + unicode::excerpt(*merge) + "' makes '" +
                       unicode::excerpt(joined) + "', which is not in the vocabulary");
        }
        const uint64_t key =
            static_cast<uint64_t>(static_cast<uint32_t>(*a)) << 32 | static_cast<uint32_t>(*b);
        m.merges.add(key, Tokenizer::Impl::Merge{static_cast<int32_t>(i), *c});
    }
    return {};
}

// SentencePiece insists on unique, non-empty pieces, one <unk>, and 256 byte pieces when any.
Result<void> build_spm(const GgufHeader& header, Tokenizer::Impl& m) {
    std::vector<std::string> texts = m.texts;
    std::vector<TokenType> types = m.types;
    std::set<std::string_view> seen;
    bool have_unk = false;
    int byte_count = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        if (texts[i].empty() || !seen.insert(m.texts[i]).second) {
            texts[i] = "[HEARTH_UNUSED_" + std::to_string(i) + "]";
            types[i] = TokenType::unused;
        }
        if (types[i] == TokenType::unknown) {
            if (have_unk) {
                types[i] = TokenType::control;
            }
            have_unk = true;
        }
        if (types[i] == TokenType::byte) {
            unsigned byte = 0;
            if (texts[i].size() != 6 || std::sscanf(texts[i].c_str(), "<0x%02X>", &byte) != 1) {
                return bad("token " + std::to_string(i) + " '" + unicode::excerpt(texts[i]) +
                           "' has type byte in tokenizer.ggml.token_type but is not <0xNN>");
            }
            ++byte_count;
        }
        if (types[i] == TokenType::undefined) {
            types[i] = TokenType::normal;
        }
    }
    if (!have_unk) {
        if (!m.unk) {
            return bad("the SentencePiece vocabulary has no unknown token "
                       "(tokenizer.ggml.unknown_token_id, or a token of type 2)");
        }
        types[static_cast<size_t>(*m.unk)] = TokenType::unknown;
        m.types[static_cast<size_t>(*m.unk)] = TokenType::unknown;
    }
    if (byte_count != 0 && byte_count != 256) {
        return bad("the vocabulary has " + std::to_string(byte_count) +
                   " byte tokens (<0xNN>), not 256");
    }
    SpmModel::Spec spec;
    spec.byte_fallback = byte_count == 256;
    spec.remove_extra_whitespaces =
        header.get_bool("tokenizer.ggml.remove_extra_whitespaces").value_or(false);
    spec.unk = m.unk;
    spec.bos = m.bos;
    spec.eos = m.eos;
    spec.pad = m.pad;
    auto spm = SpmModel::build(texts, m.scores, types, spec);
    if (!spm) {
        return std::unexpected(spm.error());
    }
    m.spm = std::move(*spm);
    return {};
}

} // namespace

Result<Tokenizer> Tokenizer::from_gguf(const GgufHeader& header) {
    auto m = std::make_unique<Impl>();
    const auto model = header.get_string("tokenizer.ggml.model");
    if (!model) {
        return bad("the file has no tokenizer (tokenizer.ggml.model is missing)");
    }
    if (*model == "llama") {
        m->kind = TokenizerKind::spm;
    } else if (*model == "gpt2") {
        m->kind = TokenizerKind::bpe;
    } else if (*model == "gemma4") {
        m->kind = TokenizerKind::bpe; // SentencePiece-style (Impl::spm_style)
        m->spm_style = true;
    } else {
        return fail(ErrorCode::unsupported, "tokenizer.ggml.model '" + unicode::excerpt(*model) +
                                                "' is not supported (only 'llama', 'gpt2' and "
                                                "'gemma4')");
    }

    auto tokens = get_array(header, "tokenizer.ggml.tokens", true);
    if (!tokens) {
        return std::unexpected(tokens.error());
    }
    const size_t n = (*tokens)->size();
    if (n == 0) {
        return bad("tokenizer.ggml.tokens is empty");
    }
    if (n > static_cast<size_t>(INT32_MAX)) {
        return bad("tokenizer.ggml.tokens has too many entries");
    }
    m->texts.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const auto text = (*tokens)->string_at(i);
        if (!text) {
            return bad("tokenizer.ggml.tokens[" + std::to_string(i) + "] is not a string");
        }
        m->texts.emplace_back(*text);
    }

    m->scores.assign(n, 0.0f);
    auto scores = get_array(header, "tokenizer.ggml.scores", m->kind == TokenizerKind::spm);
    if (!scores) {
        return std::unexpected(scores.error());
    }
    if (*scores) {
        if ((*scores)->size() != n) {
            return bad("tokenizer.ggml.scores has " + std::to_string((*scores)->size()) +
                       " entries but tokenizer.ggml.tokens has " + std::to_string(n));
        }
        for (size_t i = 0; i < n; ++i) {
            const auto score = (*scores)->float_at(i);
            if (!score) {
                return bad("tokenizer.ggml.scores[" + std::to_string(i) + "] is not a number");
            }
            m->scores[i] = static_cast<float>(*score);
        }
    }

    m->types.assign(n, TokenType::normal);
    auto types = get_array(header, "tokenizer.ggml.token_type", false);
    if (!types) {
        return std::unexpected(types.error());
    }
    if (*types) {
        if ((*types)->size() != n) {
            return bad("tokenizer.ggml.token_type has " + std::to_string((*types)->size()) +
                       " entries but tokenizer.ggml.tokens has " + std::to_string(n));
        }
        for (size_t i = 0; i < n; ++i) {
            const auto type = (*types)->int_at(i);
            if (!type || *type < 0 || *type > 6) {
                return bad("tokenizer.ggml.token_type[" + std::to_string(i) +
                           "] is not a token type (0 to 6)");
            }
            m->types[i] = static_cast<TokenType>(*type);
        }
    }

    const bool spm = m->kind == TokenizerKind::spm;
    struct IdKey {
        const char* key;
        std::optional<int32_t>* id;
        std::optional<int32_t> fallback;
    };
    // llama.cpp's defaults when a SentencePiece file does not say.
    const IdKey ids[] = {
        {"tokenizer.ggml.bos_token_id", &m->bos, spm ? std::optional<int32_t>{1} : std::nullopt},
        {"tokenizer.ggml.eos_token_id", &m->eos, spm ? std::optional<int32_t>{2} : std::nullopt},
        {"tokenizer.ggml.unknown_token_id", &m->unk,
         spm ? std::optional<int32_t>{0} : std::nullopt},
        {"tokenizer.ggml.padding_token_id", &m->pad, std::nullopt},
        {"tokenizer.ggml.eot_token_id", &m->eot, std::nullopt},
    };
    for (const auto& [key, id, fallback] : ids) {
        auto value = get_id(header, key, n, fallback);
        if (!value) {
            return std::unexpected(value.error());
        }
        *id = *value;
    }

    m->text_to_id.build(m->texts);
    if (spm) {
        m->add_bos = header.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
        m->add_space_prefix = header.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
        m->strip_prefix_on_decode = m->add_space_prefix;
        if (auto r = build_spm(header, *m); !r) {
            return std::unexpected(r.error());
        }
    } else {
        m->pre = header.get_string("tokenizer.ggml.pre").value_or("default");
        // gemma4 splits at newlines only (llama.cpp's LLAMA_VOCAB_PRE_TYPE_GEMMA4), whatever
        // tokenizer.ggml.pre says.
        auto patterns =
            m->spm_style
                ? Result<std::vector<std::string>>(std::vector<std::string>{"[^\\n]+|[\\n]+"})
                : pre_tokenizer_patterns(m->pre);
        if (!patterns) {
            return std::unexpected(patterns.error());
        }
        for (const auto& pattern : *patterns) {
            auto regex = Regex::compile(pattern);
            if (!regex) {
                return std::unexpected(regex.error());
            }
            m->pre_regexes.push_back(std::move(*regex));
        }
        m->ignore_merges = pre_tokenizer_ignores_merges(m->pre);
        m->add_bos = header.get_bool("tokenizer.ggml.add_bos_token")
                         .value_or(pre_tokenizer_adds_bos(m->pre));
        m->add_bos = m->add_bos || m->spm_style; // llama.cpp forces it for Gemma 4
        m->add_space_prefix = header.get_bool("tokenizer.ggml.add_space_prefix").value_or(false);
        if (auto r = load_merges(header, *m); !r) {
            return std::unexpected(r.error());
        }
    }
    m->add_eos = header.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
    if (m->add_bos && !m->bos) {
        return bad("tokenizer.ggml.add_bos_token is set but there is no "
                   "tokenizer.ggml.bos_token_id");
    }
    if (m->add_eos && !m->eos) {
        return bad("tokenizer.ggml.add_eos_token is set but there is no "
                   "tokenizer.ggml.eos_token_id");
    }
    if (auto ok = m->finish(); !ok) { // text_to_id is kept: the texts have not changed
        return std::unexpected(ok.error());
    }
    return Tokenizer(std::move(m));
}

Result<Tokenizer> Tokenizer::from_gguf_file(const std::filesystem::path& path) {
    auto file = GgufFile::open(path);
    if (!file) {
        return std::unexpected(file.error());
    }
    auto tokenizer = from_gguf(file->header());
    if (!tokenizer) {
        Error e = tokenizer.error();
        e.message = path.filename().string() + ": " + e.message;
        return std::unexpected(std::move(e));
    }
    return tokenizer;
}

} // namespace hearth
