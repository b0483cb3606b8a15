// Building a Tokenizer from a Hugging Face folder: tokenizer.json (byte-level BPE) or
// tokenizer.model (SentencePiece), with tokenizer_config.json for BOS/EOS.
#include "tokenizer/tokenizer_impl.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hearth {

namespace {

using nlohmann::json;

constexpr const char* kByteLevelRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Result<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(ErrorCode::io, "cannot read " + path.string());
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A special-token entry of tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> token_name(const json& config, const char* key) {
    if (!config.contains(key)) {
        return std::nullopt;
    }
    const json& v = config[key];
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_object() && v.contains("content") && v["content"].is_string()) {
        return v["content"].get<std::string>();
    }
    return std::nullopt;
}

// The regexes of a tokenizers pre_tokenizer, or an error naming what is not supported.
Result<void> add_pre_tokenizer(const json& pre, std::vector<std::string>& patterns) {
    if (pre.is_null()) {
        return {};
    }
    const std::string type = pre.value("type", "");
    if (type == "Sequence") {
        for (const json& p : pre["pretokenizers"]) {
            if (auto r = add_pre_tokenizer(p, patterns); !r) {
                return r;
            }
        }
        return {};
    }
    if (type == "ByteLevel") {
        if (pre.value("add_prefix_space", false)) {
            return fail(ErrorCode::unsupported, "tokenizer.json: ByteLevel add_prefix_space");
        }
        if (pre.value("use_regex", true)) {
            patterns.emplace_back(kByteLevelRegex);
        }
        return {};
    }
    if (type == "Digits") {
        patterns.emplace_back(pre.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
        return {};
    }
    if (type == "Split" && pre.contains("pattern") && pre["pattern"].contains("Regex") &&
        pre.value("behavior", "") == "Isolated" && !pre.value("invert", false)) {
        patterns.push_back(pre["pattern"]["Regex"].get<std::string>());
        return {};
    }
    return fail(ErrorCode::unsupported, "tokenizer.json: pre_tokenizer '" + type + "' with " +
                                            pre.dump() + " is not supported");
}

Result<void> load_tokenizer_json(const json& j, Tokenizer::Impl& m) {
    const json& model = j["model"];
    if (model.value("type", "") != "BPE" || !j.contains("decoder") || j["decoder"].is_null() ||
        j["decoder"].value("type", "") != "ByteLevel") {
        return fail(ErrorCode::unsupported,
                    "tokenizer.json: only byte-level BPE is supported (use tokenizer.model for "
                    "SentencePiece models)");
    }
    const json& vocab = model["vocab"];
    size_t n = vocab.size();
    for (const json& added : j.value("added_tokens", json::array())) {
        n = std::max<size_t>(n, added["id"].get<size_t>() + 1);
    }
    m.texts.assign(n, {});
    m.types.assign(n, TokenType::normal);
    m.scores.assign(n, 0.0f);
    for (const auto& [text, id] : vocab.items()) {
        m.texts.at(id.get<size_t>()) = text;
    }
    for (const json& added : j.value("added_tokens", json::array())) {
        const size_t id = added["id"].get<size_t>();
        m.texts[id] = added["content"].get<std::string>();
        m.types[id] = added.value("special", false) ? TokenType::control : TokenType::user_defined;
    }
    for (size_t i = 0; i < n; ++i) {
        m.text_to_id.emplace(m.texts[i], static_cast<int32_t>(i));
    }
    int32_t rank = 0;
    for (const json& merge : model["merges"]) {
        std::string left, right;
        if (merge.is_string()) {
            const std::string s = merge.get<std::string>();
            const size_t space = s.find(' ', 1);
            if (space == std::string::npos) {
                return fail(ErrorCode::bad_format, "tokenizer.json: bad merge '" + s + "'");
            }
            left = s.substr(0, space);
            right = s.substr(space + 1);
        } else {
            left = merge.at(0).get<std::string>();
            right = merge.at(1).get<std::string>();
        }
        const auto a = m.text_to_id.find(left);
        const auto b = m.text_to_id.find(right);
        const auto c = m.text_to_id.find(left + right);
        if (a == m.text_to_id.end() || b == m.text_to_id.end() || c == m.text_to_id.end()) {
            return fail(ErrorCode::bad_format, "tokenizer.json: merge '" + left + " " + right +
                                                   "' names a token not in the vocabulary");
        }
        m.merges.emplace(static_cast<uint64_t>(static_cast<uint32_t>(a->second)) << 32 |
                             static_cast<uint32_t>(b->second),
                         Tokenizer::Impl::Merge{rank++, c->second});
    }
    m.ignore_merges = model.value("ignore_merges", false);
    std::vector<std::string> patterns;
    if (auto r = add_pre_tokenizer(j.value("pre_tokenizer", json()), patterns); !r) {
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
        m.text_to_id.emplace(m.texts.back(), i);
        if (m.types.back() == TokenType::unknown && !m.unk) {
            m.unk = i;
        }
    }
    m.spm = std::move(*spm);
    m.kind = TokenizerKind::spm;
    // The model's own normalizer adds the dummy prefix (when its spec says so): Hearth adds
    // none on encode, and strips it on decode only if a probe shows the model adds one.
    m.add_space_prefix = false;
    std::vector<int32_t> probe;
    if (auto ok = m.spm->encode("a", probe); ok && !probe.empty()) {
        m.strip_prefix_on_decode =
            m.texts[static_cast<size_t>(probe[0])].starts_with("\xE2\x96\x81");
    }
    return {};
}

} // namespace

Result<Tokenizer> Tokenizer::from_hf_folder(const std::filesystem::path& folder) {
    auto m = std::make_unique<Impl>();
    json config = json::object();
    if (std::filesystem::exists(folder / "tokenizer_config.json")) {
        auto text = read_file(folder / "tokenizer_config.json");
        if (!text) {
            return std::unexpected(text.error());
        }
        config = json::parse(*text, nullptr, false);
        if (config.is_discarded() || !config.is_object()) {
            return fail(ErrorCode::bad_format, "tokenizer_config.json is not a JSON object");
        }
    }
    if (std::filesystem::exists(folder / "tokenizer.model")) {
        auto bytes = read_file(folder / "tokenizer.model");
        if (!bytes) {
            return std::unexpected(bytes.error());
        }
        if (auto r = load_tokenizer_model(*bytes, *m); !r) {
            return std::unexpected(r.error());
        }
        m->add_bos = config.value("add_bos_token", true);
    } else if (std::filesystem::exists(folder / "tokenizer.json")) {
        auto text = read_file(folder / "tokenizer.json");
        if (!text) {
            return std::unexpected(text.error());
        }
        const json j = json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("model")) {
            return fail(ErrorCode::bad_format, "tokenizer.json is not a tokenizers file");
        }
        if (auto r = load_tokenizer_json(j, *m); !r) {
            return std::unexpected(r.error());
        }
        m->kind = TokenizerKind::bpe;
        m->add_bos = config.value("add_bos_token", false);
    } else {
        return fail(ErrorCode::io,
                    folder.string() + " has neither tokenizer.json nor tokenizer.model");
    }
    m->add_eos = config.value("add_eos_token", false);
    const auto lookup = [&](const char* key) -> std::optional<int32_t> {
        const auto name = token_name(config, key);
        if (!name) {
            return std::nullopt;
        }
        const auto it = m->text_to_id.find(*name);
        return it == m->text_to_id.end() ? std::nullopt : std::optional<int32_t>{it->second};
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
    m->finish();
    return Tokenizer(std::move(m));
}

} // namespace hearth
