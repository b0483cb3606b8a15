// Built-in chat templates (compiled in from templates/ at build time), the choice of a
// template for a model, and the warnings about a choice.
#include "chat/builtin_templates_data.h"
#include "hearth/chat_template.h"

#include <algorithm>
#include <cctype>

namespace hearth {

namespace {

std::string_view embedded_file(std::string_view name) {
    for (size_t i = 0; i < detail::kEmbeddedTemplateCount; ++i) {
        if (detail::kEmbeddedTemplates[i].name == name) {
            return detail::kEmbeddedTemplates[i].text;
        }
    }
    return {};
}

std::vector<BuiltinTemplate> load_builtins() {
    std::vector<BuiltinTemplate> out;
    nlohmann::json index = nlohmann::json::parse(embedded_file("index.json"), nullptr, false);
    if (!index.is_object() || !index["templates"].is_array()) {
        return out; // a broken index is caught by tst_chat_template
    }
    for (const auto& entry : index["templates"]) {
        BuiltinTemplate t;
        t.name = entry.value("name", "");
        t.description = entry.value("description", "");
        t.stop = entry.value("stop", std::vector<std::string>{});
        t.supports_system = entry.value("supports_system", true);
        t.bos_token = entry.value("bos_token", "");
        t.eos_token = entry.value("eos_token", "");
        t.tokens = entry.value("tokens", std::vector<std::string>{});
        t.source = std::string(embedded_file(entry.value("file", "")));
        out.push_back(std::move(t));
    }
    return out;
}

// Which built-in a vocabulary's special tokens point to, most specific first.
struct Signature {
    std::vector<const char*> tokens; // all must be in the vocabulary
    const char* template_name;
};

const Signature kSignatures[] = {
    {{"<|start_header_id|>", "<|eot_id|>"}, "llama3"},
    {{"<|start_header_id|>"}, "llama3"},
    {{"<|im_start|>", "<|im_sep|>"}, "phi4"},
    {{"<|im_start|>"}, "chatml"},
    {{"<|turn>", "<turn|>"}, "gemma4"},
    {{"<start_of_turn>"}, "gemma"},
    {{"<|user|>", "<|end|>"}, "phi3"},
    {{"<｜User｜>"}, "deepseek"},
    {{"[INST]"}, "mistral"},
};

bool contains_ci(std::string_view haystack, std::string_view needle) {
    auto it = std::search(
        haystack.begin(), haystack.end(), needle.begin(), needle.end(),
        [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); });
    return it != haystack.end();
}

} // namespace

const std::vector<BuiltinTemplate>& builtin_templates() {
    static const std::vector<BuiltinTemplate> templates = load_builtins();
    return templates;
}

const BuiltinTemplate* find_builtin_template(std::string_view name) {
    for (const auto& t : builtin_templates()) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

TemplateChoice choose_template(std::string_view embedded_template,
                               const VocabularyLookup& has_token) {
    if (!embedded_template.empty()) {
        return {TemplateOrigin::embedded, "model", std::string(embedded_template),
                "the model has its own chat template"};
    }
    if (has_token) {
        for (const auto& sig : kSignatures) {
            if (std::all_of(sig.tokens.begin(), sig.tokens.end(),
                            [&](const char* t) { return has_token(t); })) {
                if (const BuiltinTemplate* t = find_builtin_template(sig.template_name)) {
                    return {TemplateOrigin::builtin, t->name, t->source,
                            std::string("the vocabulary has ") + sig.tokens.front()};
                }
            }
        }
    }
    const BuiltinTemplate* raw = find_builtin_template("raw");
    return {TemplateOrigin::raw, "raw", raw ? raw->source : std::string(),
            "no chat template and no known chat special tokens"};
}

TemplateChoice choose_template(std::string_view embedded_template,
                               const std::vector<std::string>& vocabulary) {
    std::vector<std::string_view> wanted;
    for (const auto& sig : kSignatures) {
        wanted.insert(wanted.end(), sig.tokens.begin(), sig.tokens.end());
    }
    std::vector<std::string> present;
    for (const auto& token : vocabulary) {
        if (std::find(wanted.begin(), wanted.end(), token) != wanted.end()) {
            present.push_back(token);
        }
    }
    return choose_template(embedded_template, [&](std::string_view t) {
        return std::find(present.begin(), present.end(), t) != present.end();
    });
}

namespace {

// The length of the run of bytes from `pos` on that satisfy `in_class`.
template <class Pred>
size_t run_length(std::string_view text, size_t pos, Pred in_class) {
    size_t end = pos;
    while (end < text.size() && in_class(static_cast<unsigned char>(text[end]))) {
        ++end;
    }
    return end - pos;
}

// The length of the special-token-looking string that starts at `pos`, or 0. It matches what
// the regular expression
//   <\|[A-Za-z0-9_.:/\-]+\|>|<｜[^｜<>]{1,40}｜>|</?[a-z]+(?:_[a-z]+)+>|\[/?[A-Z][A-Z_]{1,20}\]
// matches there (bytewise, as std::regex over char does), written out by hand: libstdc++'s
// regex executor recurses once per character, and a hostile template with a long `<|aaa...`
// run overflowed the stack (tests/data/templates/fuzz-regressions/).
size_t special_token_at(std::string_view text, size_t pos) {
    constexpr std::string_view bar = "｜"; // DeepSeek's full-width vertical line
    std::string_view rest = text.substr(pos);
    if (rest.starts_with("<|")) {
        size_t n = run_length(text, pos + 2, [](unsigned char c) {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
        });
        return n > 0 && text.substr(pos + 2 + n).starts_with("|>") ? n + 4 : 0;
    }
    if (rest.starts_with("<") && rest.substr(1).starts_with(bar)) {
        size_t body = pos + 1 + bar.size();
        size_t n = run_length(text, body, [](unsigned char c) {
            return c != 0xEF && c != 0xBD && c != 0x9C && c != '<' && c != '>'; // [^｜<>]
        });
        std::string_view after = text.substr(body + n);
        return n >= 1 && n <= 40 && after.starts_with(bar) &&
                       after.substr(bar.size()).starts_with(">")
                   ? 1 + bar.size() + n + bar.size() + 1
                   : 0;
    }
    if (rest.starts_with("<")) {
        // [a-z]+(?:_[a-z]+)+ is a run of letters and underscores that starts and ends with a
        // letter, has an underscore and no two in a row.
        size_t body = pos + 1 + (rest.starts_with("</") ? 1 : 0);
        size_t n = run_length(text, body,
                              [](unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
        std::string_view word = text.substr(body, n);
        bool ok = n >= 3 && word.front() != '_' && word.back() != '_' &&
                  word.find('_') != std::string_view::npos &&
                  word.find("__") == std::string_view::npos &&
                  text.substr(body + n).starts_with(">");
        return ok ? body + n + 1 - pos : 0;
    }
    if (rest.starts_with("[")) {
        size_t body = pos + 1 + (rest.starts_with("[/") ? 1 : 0);
        size_t n = run_length(text, body,
                              [](unsigned char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
        bool ok = n >= 2 && n <= 21 && text[body] != '_' && text.substr(body + n).starts_with("]");
        return ok ? body + n + 1 - pos : 0;
    }
    return 0;
}

} // namespace

std::vector<std::string> template_special_tokens(std::string_view template_source) {
    // <|...|>, <｜...｜> (DeepSeek's full-width bars), <word_with_underscores> (Gemma),
    // [INST]-style bracketed capitals, <s>/</s>-free: plain HTML-ish tags are not matched.
    std::vector<std::string> tokens;
    for (size_t pos = 0; pos < template_source.size();) {
        size_t n = special_token_at(template_source, pos);
        if (n == 0) {
            ++pos;
            continue;
        }
        std::string token(template_source.substr(pos, n));
        if (std::find(tokens.begin(), tokens.end(), token) == tokens.end()) {
            tokens.push_back(std::move(token));
        }
        pos += n;
    }
    return tokens;
}

std::vector<TemplateWarning> template_warnings(const ModelTemplateFacts& model,
                                               std::string_view template_source, bool is_raw) {
    std::vector<TemplateWarning> warnings;
    if (model.has_token && !is_raw) {
        std::vector<std::string> missing;
        for (auto& token : template_special_tokens(template_source)) {
            if (!model.has_token(token)) {
                missing.push_back(std::move(token));
            }
        }
        if (!missing.empty()) {
            std::string list;
            for (const auto& t : missing) {
                list += (list.empty() ? "" : ", ") + t;
            }
            warnings.push_back({TemplateWarningKind::missing_special_tokens,
                                "The template writes special tokens that are not in the model's "
                                "vocabulary (" +
                                    list + "); they will be split into ordinary text.",
                                std::move(missing)});
        }
    }
    bool named_base = contains_ci(model.name, "base") ||
                      std::any_of(model.tags.begin(), model.tags.end(),
                                  [](const std::string& t) { return contains_ci(t, "base"); });
    bool chat_tokens =
        model.has_token && choose_template({}, model.has_token).origin == TemplateOrigin::builtin;
    bool named_chat = contains_ci(model.name, "instruct") || contains_ci(model.name, "chat") ||
                      contains_ci(model.name, "-it");
    bool looks_base = named_base || (model.embedded_template.empty() && model.has_token &&
                                     !chat_tokens && !named_chat);
    bool looks_chat =
        !named_base && (!model.embedded_template.empty() || chat_tokens || named_chat);
    if (looks_base && !is_raw) {
        warnings.push_back({TemplateWarningKind::base_model_with_chat_template,
                            "This looks like a base (not chat-tuned) model; a chat template may "
                            "make it ramble or echo the markup. Consider the raw template.",
                            {}});
    }
    if (looks_chat && is_raw) {
        warnings.push_back({TemplateWarningKind::chat_model_used_raw,
                            "This is a chat model used without its chat template; expect "
                            "off-format replies. Consider the model's own template.",
                            {}});
    }
    return warnings;
}

} // namespace hearth
