// Template resolution, rendering and prompt tokenization for a model.
#include "hearth/prompt.h"

#include <fmt/format.h>

namespace hearth {

namespace {

// "chatml, llama3, ...": the built-ins' names, for messages.
std::string builtin_names() {
    std::string names;
    for (const BuiltinTemplate& builtin : builtin_templates()) {
        names += (names.empty() ? "" : ", ") + builtin.name;
    }
    return names;
}

// What every choice gets once made: the BOS/EOS strings, the parsed template and the warnings
// about it for this model.
Result<PromptFormat> complete_format(const Model& model, PromptFormat format) {
    const Tokenizer& tokenizer = model.tokenizer();
    auto token_text = [&tokenizer](std::optional<int32_t> id) {
        return id ? tokenizer.token_text(*id) : std::string();
    };
    format.bos_token = token_text(tokenizer.bos_id());
    format.eos_token = token_text(tokenizer.eos_id());
    if (format.choice.origin != TemplateOrigin::raw) {
        auto parsed = ChatTemplate::parse(format.choice.source);
        if (!parsed) {
            return fail(ErrorCode::bad_format, fmt::format("template '{}': {}", format.choice.name,
                                                           parsed.error().message));
        }
        format.chat_template = std::move(*parsed);
    }
    const VocabularyLookup has_token = [&tokenizer](std::string_view text) {
        return tokenizer.find_token(text).has_value();
    };
    ModelTemplateFacts facts{.name = model.info().name,
                             .tags = {},
                             .embedded_template = model.info().chat_template.value_or(""),
                             .has_token = has_token};
    if (const GgufValue* tags = model.file().find("general.tags"); tags && tags->as_array()) {
        const GgufArray& array = *tags->as_array();
        for (size_t i = 0; i < array.size(); ++i) {
            if (const auto text = array.string_at(i)) {
                facts.tags.emplace_back(*text);
            }
        }
    }
    format.warnings =
        template_warnings(facts, format.choice.source, format.choice.origin == TemplateOrigin::raw);
    format.reasoning = detect_reasoning_format(format.choice.source, has_token);
    return format;
}

} // namespace

bool is_template_name(std::string_view name) {
    return name.empty() || name == "model" || name == "raw" ||
           find_builtin_template(name) != nullptr;
}

Result<PromptFormat> resolve_prompt_format(const Model& model, std::string_view name) {
    const Tokenizer& tokenizer = model.tokenizer();
    const std::string embedded = model.info().chat_template.value_or("");
    PromptFormat format;
    if (name.empty()) {
        format.choice = choose_template(embedded, [&tokenizer](std::string_view text) {
            return tokenizer.find_token(text).has_value();
        });
    } else if (name == "model") {
        if (embedded.empty()) {
            return fail(ErrorCode::invalid_argument, "this model has no chat template of its own");
        }
        format.choice = {TemplateOrigin::embedded, "model", embedded, "the model's own template"};
    } else if (name == "raw") {
        format.choice = {TemplateOrigin::raw, "raw", "", "chosen by the user"};
    } else if (const BuiltinTemplate* builtin = find_builtin_template(name)) {
        format.choice = {TemplateOrigin::builtin, builtin->name, builtin->source,
                         "chosen by the user"};
    } else {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("'{}' is not a chat template name: use model (the model's own), "
                                "raw, or a built-in one ({})",
                                name, builtin_names()));
    }
    if (format.choice.origin == TemplateOrigin::builtin) {
        if (const BuiltinTemplate* builtin = find_builtin_template(format.choice.name)) {
            format.stop_strings = builtin->stop;
        }
    }
    return complete_format(model, std::move(format));
}

Result<PromptFormat> resolve_prompt_format_source(const Model& model, std::string_view label,
                                                  std::string source) {
    PromptFormat format;
    format.choice = {TemplateOrigin::builtin, std::string(label), std::move(source),
                     "a custom template"};
    return complete_format(model, std::move(format));
}

Result<std::string> render_prompt(const PromptFormat& format, std::span<const ChatMessage> messages,
                                  bool add_generation_prompt,
                                  const nlohmann::ordered_json& variables) {
    if (!format.chat_template) {
        std::string text;
        for (const auto& message : messages) {
            text += message.content;
        }
        return text;
    }
    ChatRenderOptions options;
    options.add_generation_prompt = add_generation_prompt;
    options.bos_token = format.bos_token;
    options.eos_token = format.eos_token;
    if (variables.is_object()) {
        options.extra = variables;
    }
    return format.chat_template->render(messages, options);
}

Result<std::vector<int32_t>> tokenize_prompt(const Tokenizer& tokenizer, std::string_view text,
                                             bool parse_special) {
    bool add_special = true;
    if (auto bos = tokenizer.bos_id(); bos && tokenizer.add_bos()) {
        const std::string& bos_text = tokenizer.token_text(*bos);
        if (!bos_text.empty() && text.starts_with(bos_text) && parse_special) {
            add_special = false; // the template wrote it
        }
    }
    return tokenizer.encode(text, {.add_special = add_special, .parse_special = parse_special});
}

} // namespace hearth
