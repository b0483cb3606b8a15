// The checklist's format item: base or chat-tuned, which template and why, and whether the
// template shows a system prompt (found by rendering a probe conversation).
#include "doctor_internal.h"
#include "hearth/chat_template.h"

#include <fmt/format.h>
#include <unordered_set>

namespace hearth {
namespace {

// A system message no template writes on its own, to find in the rendered probe.
constexpr std::string_view kSystemProbe = "Hearth system probe 7f3a";

struct ChosenTemplate {
    TemplateChoice choice;
    const BuiltinTemplate* builtin = nullptr; // when a built-in
    std::string error;                        // an unknown name
};

ChosenTemplate choose(const ModelFileFacts& file, const VocabularyLookup& has_token,
                      const std::string& name) {
    ChosenTemplate chosen;
    if (name.empty() || name == "model") {
        chosen.choice = choose_template(file.embedded_template, has_token);
        if (name == "model" && file.embedded_template.empty()) {
            chosen.error = "the model has no template of its own";
        }
    } else if (name == "raw") {
        chosen.choice = {TemplateOrigin::raw, "raw", "", "chosen in the settings"};
    } else if (const BuiltinTemplate* builtin = find_builtin_template(name)) {
        chosen.choice = {TemplateOrigin::builtin, builtin->name, builtin->source,
                         "chosen in the settings"};
    } else {
        chosen.error =
            fmt::format("there is no built-in template named '{}'", gguf_printable(name));
    }
    if (chosen.choice.origin == TemplateOrigin::builtin) {
        chosen.builtin = find_builtin_template(chosen.choice.name);
    }
    return chosen;
}

// Whether a system message shows in the render: "" when it does, else why not.
std::string system_probe(const ChatTemplate& chat_template, const ModelFileFacts& file) {
    const ChatMessage messages[] = {{"system", std::string(kSystemProbe)}, {"user", "Hello"}};
    ChatRenderOptions options;
    options.bos_token = file.bos_token;
    options.eos_token = file.eos_token;
    options.render.now_unix = 0;
    auto rendered = chat_template.render(messages, options);
    if (!rendered) {
        return fmt::format("rendering a system message fails: {}", rendered.error().message);
    }
    if (rendered->find(kSystemProbe) == std::string::npos) {
        return "a system message rendered through it does not appear in the prompt";
    }
    return {};
}

void add_template_warnings(CheckItem& item, const ModelFileFacts& file,
                           const VocabularyLookup& has_token, const ChosenTemplate& chosen) {
    ModelTemplateFacts facts{.name = file.name.empty() ? file.file_name : file.name,
                             .tags = file.tags,
                             .embedded_template = file.embedded_template,
                             .has_token = has_token};
    const bool raw = chosen.choice.origin == TemplateOrigin::raw;
    const TemplateChoice own = choose_template(file.embedded_template, has_token);
    for (const TemplateWarning& warning : template_warnings(facts, chosen.choice.source, raw)) {
        item.evidence.push_back(warning.message);
        switch (warning.kind) {
        case TemplateWarningKind::missing_special_tokens:
            item.status = CheckStatus::red;
            if (own.origin != TemplateOrigin::raw && own.name != chosen.choice.name) {
                item.fixes.push_back({.label = fmt::format("Use the {} template", own.name),
                                      .effect = "the model's own markup: " + own.reason,
                                      .change = {.template_name = own.name}});
            }
            break;
        case TemplateWarningKind::base_model_with_chat_template:
            item.status = std::max(item.status, CheckStatus::amber);
            item.fixes.push_back({.label = "Use the raw template",
                                  .effect = "the text is continued as written, as a base model "
                                            "was trained",
                                  .change = {.template_name = "raw"}});
            break;
        case TemplateWarningKind::chat_model_used_raw:
            item.status = std::max(item.status, CheckStatus::amber);
            item.fixes.push_back({.label = fmt::format("Use the {} template", own.name),
                                  .effect = "replies in the format the model was tuned on",
                                  .change = {.template_name = own.name}});
            break;
        }
    }
}

} // namespace

CheckItem check_format(const ModelInfo& info, const ModelFileFacts& file,
                       const PreflightSettings& settings) {
    CheckItem item{.id = "format", .title = "Format"};
    const TuningVerdict tuning = classify_model_tuning(info, file);
    item.evidence = tuning.evidence;
    std::unordered_set<std::string_view> vocabulary(file.vocabulary.begin(), file.vocabulary.end());
    const VocabularyLookup has_token = [&vocabulary](std::string_view token) {
        return vocabulary.contains(token);
    };
    const ChosenTemplate chosen = choose(file, has_token, settings.template_name);
    item.figures.push_back({"Model", model_tuning_name(tuning.tuning), 0, ""});
    item.figures.push_back({"Template", chosen.choice.name, 0, ""});
    if (!chosen.error.empty()) {
        item.status = CheckStatus::red;
        item.summary = "The template setting is wrong: " + chosen.error;
        return item;
    }
    item.evidence.push_back(
        fmt::format("Template: {}, {}.", chosen.choice.name, chosen.choice.reason));
    add_template_warnings(item, file, has_token, chosen);

    std::string system_problem;
    if (chosen.choice.origin != TemplateOrigin::raw) {
        auto parsed = ChatTemplate::parse(chosen.choice.source);
        if (!parsed) {
            item.status = CheckStatus::red;
            item.summary = fmt::format("The {} template does not parse: {}", chosen.choice.name,
                                       parsed.error().message);
            return item;
        }
        system_problem = system_probe(*parsed, file);
    }
    const bool system_shown = system_problem.empty();
    item.figures.push_back({"System prompt", settings.system_prompt.empty() ? "not set" : "set",
                            settings.system_prompt.empty() ? 0.0 : 1.0, ""});
    item.figures.push_back({"Template shows a system prompt", system_shown ? "yes" : "no",
                            system_shown ? 1.0 : 0.0, ""});
    item.evidence.push_back(system_shown
                                ? "A system message rendered through the template "
                                  "appears in the prompt."
                                : "The template drops system prompts: " + system_problem + ".");
    if (!settings.system_prompt.empty() && !system_shown) {
        item.status = std::max(item.status, CheckStatus::amber);
        item.fixes.push_back({.label = "Remove the system prompt",
                              .effect = "the template would drop it or fail on it; put its "
                                        "instructions in the first message instead",
                              .change = {.system_prompt = ""}});
    }
    item.summary =
        fmt::format("{} model, {} template{}", model_tuning_name(tuning.tuning), chosen.choice.name,
                    settings.system_prompt.empty()
                        ? ""
                        : (system_shown ? ", system prompt shown" : ", system prompt dropped"));
    if (item.status == CheckStatus::green && tuning.tuning == ModelTuning::base &&
        chosen.choice.origin != TemplateOrigin::raw) {
        item.status = CheckStatus::amber; // template_warnings may not have seen it as base
        item.fixes.push_back({.label = "Use the raw template",
                              .effect = "the text is continued as written, as a base model "
                                        "was trained",
                              .change = {.template_name = "raw"}});
    }
    return item;
}

} // namespace hearth
