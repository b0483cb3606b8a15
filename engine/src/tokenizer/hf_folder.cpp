// Building a Tokenizer from a Hugging Face folder: tokenizer.json (byte-level BPE) or
// tokenizer.model (SentencePiece), with tokenizer_config.json for BOS/EOS. The files are
// hostile input: read only when regular and bounded in size, JSON parsed with bounded size
// and nesting, and every value checked for its type and range before use.
#include "hearth/file_input.h"
#include "hearth/json_input.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace hearth {

namespace {

using json = nlohmann::ordered_json;

constexpr const char* kByteLevelRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Token ids may leave holes after the vocabulary and its added tokens, but not so many that
// a file could make Hearth allocate for billions of tokens.
constexpr size_t kMaxIdHoles = 65536;

std::unexpected<Error> bad_json(const std::string& what) {
    return fail(ErrorCode::bad_format, "tokenizer.json: " + what);
}

// obj[key] when it is a string, else "" (absent, null, or another type).
std::string string_or_empty(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// obj[key] when it is a boolean, else `fallback` (absent, null, or another type: Hugging Face
// treats a null as absent).
bool bool_or(const json& obj, const char* key, bool fallback) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// A special-token entry of tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> token_name(const json& config, const char* key) {
    const auto it = config.find(key);
    if (it == config.end()) {
        return std::nullopt;
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_object() && !string_or_empty(*it, "content").empty()) {
        return string_or_empty(*it, "content");
    }
    return std::nullopt;
}

// The regexes of a tokenizers pre_tokenizer, or an error naming what is not supported.
// Recurses into Sequence as deep as the JSON nests (bounded by parse_json_input).
Result<void> add_pre_tokenizer(const json& pre, std::vector<std::string>& patterns) {
    if (pre.is_null()) {
        return {};
    }
    if (!pre.is_object()) {
        return bad_json("a pre_tokenizer is not an object");
    }
    const std::string type = string_or_empty(pre, "type");
    if (type == "Sequence") {
        const auto list = pre.find("pretokenizers");
        if (list == pre.end() || !list->is_array()) {
            return bad_json("a Sequence pre_tokenizer has no pretokenizers array");
        }
        for (const json& p : *list) {
            if (auto r = add_pre_tokenizer(p, patterns); !r) {
                return r;
            }
        }
        return {};
    }
    if (type == "ByteLevel") {
        if (bool_or(pre, "add_prefix_space", false)) {
            return fail(ErrorCode::unsupported, "tokenizer.json: ByteLevel add_prefix_space");
        }
        if (bool_or(pre, "use_regex", true)) {
            patterns.emplace_back(kByteLevelRegex);
        }
        return {};
    }
    if (type == "Digits") {
        patterns.emplace_back(bool_or(pre, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
        return {};
    }
    const auto pattern = pre.find("pattern");
    if (type == "Split" && pattern != pre.end() && pattern->is_object() &&
        pattern->contains("Regex") && (*pattern)["Regex"].is_string() &&
        string_or_empty(pre, "behavior") == "Isolated" && !bool_or(pre, "invert", false)) {
        patterns.push_back((*pattern)["Regex"].get<std::string>());
        return {};
    }
    return fail(
        ErrorCode::unsupported,
        "tokenizer.json: pre_tokenizer '" + unicode::excerpt(type) + "' with " +
            unicode::excerpt(pre.dump(-1, ' ', false, json::error_handler_t::replace), 200) +
            " is not supported");
}

// A token id of the file: an integer from 0 to `limit` - 1.
Result<size_t> token_id(const json& value, size_t limit, const std::string& where) {
    if (!value.is_number_unsigned() || value.get<uint64_t>() >= limit) {
        return bad_json(
            where + " has the id " +
            unicode::excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace)) +
            "; ids are integers from 0 to " + std::to_string(limit - 1));
    }
    return static_cast<size_t>(value.get<uint64_t>());
}

// Fills the vocabulary: the model's tokens, then the added ones (special or not).
Result<void> load_vocabulary(const json& vocab, const json& added, Tokenizer::Impl& m) {
    const size_t limit = std::min<size_t>(vocab.size() + added.size() + kMaxIdHoles, INT32_MAX);
    size_t n = 0;
    std::vector<std::pair<size_t, std::string>> entries;
    for (const auto& [text, value] : vocab.items()) {
        auto id = token_id(value, limit, "the token '" + unicode::excerpt(text) + "'");
        if (!id) {
            return std::unexpected(id.error());
        }
        n = std::max(n, *id + 1);
        entries.emplace_back(*id, text);
    }
    std::vector<std::pair<size_t, bool>> added_ids; // id, special
    for (const json& token : added) {
        if (!token.is_object() || !token.contains("id") || !token.contains("content") ||
            !token["content"].is_string()) {
            return bad_json("an added token has no id or no content");
        }
        auto id = token_id(token["id"], limit, "an added token");
        if (!id) {
            return std::unexpected(id.error());
        }
        n = std::max(n, *id + 1);
        entries.emplace_back(*id, token["content"].get<std::string>());
        added_ids.emplace_back(*id, bool_or(token, "special", false));
    }
    m.texts.assign(n, {});
    m.types.assign(n, TokenType::normal);
    m.scores.assign(n, 0.0f);
    for (auto& [id, text] : entries) {
        m.texts[id] = std::move(text);
    }
    for (const auto& [id, special] : added_ids) {
        m.types[id] = special ? TokenType::control : TokenType::user_defined;
    }
    m.text_to_id.build(m.texts);
    return {};
}

Result<void> load_merges(const json& merges, Tokenizer::Impl& m) {
    int32_t rank = 0;
    for (const json& merge : merges) {
        std::string left, right;
        if (merge.is_string()) {
            const std::string s = merge.get<std::string>();
            const size_t space = s.find(' ', 1);
            if (space == std::string::npos) {
                return bad_json("bad merge '" + unicode::excerpt(s) + "'");
            }
            left = s.substr(0, space);
            right = s.substr(space + 1);
        } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                   merge[1].is_string()) {
            left = merge[0].get<std::string>();
            right = merge[1].get<std::string>();
        } else {
            return bad_json("merge " + std::to_string(rank) +
                            " is neither \"left right\" nor [left, right]");
        }
        const auto a = m.text_to_id.find(left);
        const auto b = m.text_to_id.find(right);
        const auto c = m.text_to_id.find(left + right);
        if (!a || !b || !c) {
            return bad_json("merge '" + unicode::excerpt(left) + " " + unicode::excerpt(right) +
                            "' names a token not in the vocabulary");
        }
        m.merges.add(static_cast<uint64_t>(static_cast<uint32_t>(*a)) << 32 |
                         static_cast<uint32_t>(*b),
                     Tokenizer::Impl::Merge{rank++, *c});
    }
    return {};
}

Result<void> load_tokenizer_json(const json& j, Tokenizer::Impl& m) {
    const auto model = j.find("model");
    const auto decoder = j.find("decoder");
    if (model == j.end() || !model->is_object() || string_or_empty(*model, "type") != "BPE" ||
        decoder == j.end() || !decoder->is_object() ||
        string_or_empty(*decoder, "type") != "ByteLevel") {
        return fail(ErrorCode::unsupported,
                    "tokenizer.json: only byte-level BPE is supported (use tokenizer.model for "
                    "SentencePiece models)");
    }
    const auto vocab = model->find("vocab");
    const auto merges = model->find("merges");
    if (vocab == model->end() || !vocab->is_object() || merges == model->end() ||
        !merges->is_array()) {
        return bad_json("the model has no vocab object or no merges array");
    }
    const json no_added = json::array();
    const auto added = j.find("added_tokens");
    if (added != j.end() && !added->is_array() && !added->is_null()) {
        return bad_json("added_tokens is not an array");
    }
    if (auto ok =
            load_vocabulary(*vocab, added != j.end() && added->is_array() ? *added : no_added, m);
        !ok) {
        return ok;
    }
    if (auto ok = load_merges(*merges, m); !ok) {
        return ok;
    }
    m.ignore_merges = bool_or(*model, "ignore_merges", false);
    std::vector<std::string> patterns;
    const auto pre = j.find("pre_tokenizer");
    if (auto r = add_pre_tokenizer(pre == j.end() ? json() : *pre, patterns); !r) {
        return r;
    }
    for (const auto& pattern : patterns) {
        auto regex = Regex::compile(pattern);
        if (!regex) {
            return std::unexpected(regex.error());
        }
        m.pre_regexes.push_back(std::move(*regex));
    }
    m.pre = "tokenizer.json";
    return {};
}

Result<void> load_tokenizer_model(std::string_view bytes, Tokenizer::Impl& m) {
    auto spm = SpmModel::load(bytes);
    if (!spm) {
        return std::unexpected(spm.error());
    }
    const int32_t n = (*spm)->size();
    for (int32_t i = 0; i < n; ++i) {
        m.texts.push_back((*spm)->piece(i));
        m.scores.push_back((*spm)->score(i));
        m.types.push_back((*spm)->type(i));
        if (m.types.back() == TokenType::unknown && !m.unk) {
            m.unk = i;
        }
    }
    m.text_to_id.build(m.texts);
    m.spm = std::move(*spm);
    m.kind = TokenizerKind::spm;
    // The model's own normalizer adds the dummy prefix (when its spec says so): Hearth adds
    // none on encode, and strips it on decode only if a probe shows the model adds one.
    m.add_space_prefix = false;
    std::vector<int32_t> probe;
    if (auto ok = m.spm->encode("a", probe); ok && !probe.empty() && m.valid(probe[0])) {
        m.strip_prefix_on_decode =
            m.texts[static_cast<size_t>(probe[0])].starts_with("\xE2\x96\x81");
    }
    return {};
}

// A JSON file of the folder, when present: a regular file of at most `max_bytes`, parsed
// with parse_json_input's bounds.
Result<std::optional<json>> read_json_file(const std::filesystem::path& path, size_t max_bytes) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        return std::optional<json>{};
    }
    const std::string name = path.filename().string();
    auto text = read_file_input(path, name, max_bytes);
    if (!text) {
        return std::unexpected(text.error());
    }
    auto parsed = parse_json_input(*text, name, {.max_bytes = max_bytes, .max_depth = 512});
    if (!parsed) {
        return std::unexpected(parsed.error());
    }
    return std::optional<json>{std::move(*parsed)};
}

} // namespace

Result<Tokenizer> Tokenizer::from_hf_folder(const std::filesystem::path& folder) {
    auto m = std::make_unique<Impl>();
    auto config_file = read_json_file(folder / "tokenizer_config.json", kMaxTokenizerConfigBytes);
    if (!config_file) {
        return std::unexpected(config_file.error());
    }
    const json config = config_file->value_or(json::object());
    if (!config.is_object()) {
        return fail(ErrorCode::bad_format, "tokenizer_config.json is not a JSON object");
    }
    std::error_code ec;
    if (std::filesystem::exists(folder / "tokenizer.model", ec)) {
        auto bytes =
            read_file_input(folder / "tokenizer.model", "tokenizer.model", kMaxTokenizerModelBytes);
        if (!bytes) {
            return std::unexpected(bytes.error());
        }
        if (auto r = load_tokenizer_model(*bytes, *m); !r) {
            return std::unexpected(r.error());
        }
        m->add_bos = bool_or(config, "add_bos_token", true);
    } else if (std::filesystem::exists(folder / "tokenizer.json", ec)) {
        auto j = read_json_file(folder / "tokenizer.json", kMaxTokenizerJsonBytes);
        if (!j) {
            return std::unexpected(j.error());
        }
        if (!(*j)->is_object() || !(*j)->contains("model")) {
            return fail(ErrorCode::bad_format, "tokenizer.json is not a tokenizers file");
        }
        // Every value is checked before use; a json exception would still be a bad file.
        try {
            if (auto r = load_tokenizer_json(**j, *m); !r) {
                return std::unexpected(r.error());
            }
        } catch (const nlohmann::json::exception& e) {
            return fail(ErrorCode::bad_format, std::string("tokenizer.json: ") + e.what());
        }
        m->kind = TokenizerKind::bpe;
        m->add_bos = bool_or(config, "add_bos_token", false);
    } else {
        return fail(ErrorCode::io,
                    folder.string() + " has neither tokenizer.json nor tokenizer.model");
    }
    m->add_eos = bool_or(config, "add_eos_token", false);
    const auto lookup = [&](const char* key) -> std::optional<int32_t> {
        const auto name = token_name(config, key);
        if (!name) {
            return std::nullopt;
        }
        return m->text_to_id.find(*name);
    };
    m->bos = lookup("bos_token");
    m->eos = lookup("eos_token");
    m->pad = lookup("pad_token");
    if (auto unk = lookup("unk_token")) {
        m->unk = unk;
    }
    if (m->add_bos && !m->bos) {
        m->add_bos = false;
    }
    if (m->add_eos && !m->eos) {
        m->add_eos = false;
    }
    m->text_to_id.clear();
    if (auto ok = m->finish(); !ok) {
        return std::unexpected(ok.error());
    }
    return Tokenizer(std::move(m));
}

} // namespace hearth
