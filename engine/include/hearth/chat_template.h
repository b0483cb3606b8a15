// Chat templates: renders a conversation to the exact prompt text a model expects, with a
// Jinja2 interpreter faithful to Python's jinja2 in the environment Hugging Face's
// apply_chat_template uses (trim_blocks, lstrip_blocks, loopcontrols, the sandbox,
// raise_exception, strftime_now, tojson with ensure_ascii=False); plus Hearth's built-in
// templates, the choice of a template for a model, and warnings when a choice looks wrong.
//
// JSON inputs are nlohmann::ordered_json: Python dicts keep their insertion order, and
// templates print them (tojson), so the order of keys in messages and tools is preserved.
//
// A ChatTemplate is immutable after parse(): copies share the parsed tree, and render() may
// be called from several threads at once. Nothing here throws; failures are Error values
// (code bad_format) whose message is what jinja2 would say, for example a template's own
// raise_exception("System role not supported") arrives verbatim.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// Bounds on parsing a template (docs/LIMITS.md, "Chat templates (Jinja)"). Exceeding one
// fails the parse with a message naming the bound; real templates are under 16 KB, with a
// few thousand nodes at most and expressions a few dozen levels deep.
struct ParseLimits {
    size_t max_source_bytes = 1u << 20; // the template text
    // Blocks, brackets and expressions inside one another, and chains of operators, filters,
    // attributes, subscripts and calls (`1+1+1+…` is as deep as it is long).
    size_t max_depth = 256;
    size_t max_nodes = 100'000; // statements and expressions in the syntax tree
};

// Bounds on one render, so that a hostile template in a downloaded model cannot hang or
// exhaust memory. Exceeding one fails the render with a message naming the bound.
struct RenderLimits {
    size_t max_depth = 256;              // nested macro calls and loops
    size_t max_output_bytes = 16u << 20; // the rendered text (and any captured block)
    // The render's work budget: every loop iteration, expression, byte of text and item of a
    // list or dict that the template handles is charged, in units of about one byte's work,
    // so that a hostile template stops with an error within a second (docs/LIMITS.md).
    uint64_t max_work = 100'000'000;
    // Arrays and objects nested inside one variable's value (messages, tools, --var values):
    // JsonLimits::max_depth, so that whatever parse_json_input accepts can be rendered.
    size_t max_variable_depth = 512;
};

struct RenderOptions {
    RenderLimits limits;
    // strftime_now() formats this instant (seconds since the epoch, read as UTC) instead of
    // the local time now: for reproducible renders and tests.
    std::optional<int64_t> now_unix;
};

struct ChatMessage {
    std::string role; // "system", "user", "assistant", "tool"
    std::string content;
    // An assistant reply's reasoning, passed as reasoning_content (and thinking): the template
    // decides whether earlier turns keep it. Empty: none.
    std::string reasoning = {};
};

struct ChatRenderOptions {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    nlohmann::ordered_json tools; // a list of tool schemas, or null
    nlohmann::ordered_json extra =
        nlohmann::ordered_json::object(); // more variables (enable_thinking, ...)
    RenderOptions render;
};

class ChatTemplate {
public:
    // Parses `source`. A syntax error gives "line L, column C: <what was expected>"; so does
    // a template past one of `limits`, naming it.
    static Result<ChatTemplate> parse(std::string_view source, const ParseLimits& limits = {});

    // Renders with `context` (a JSON object) as the template's variables, exactly as given:
    // messages, add_generation_prompt, bos_token, eos_token, tools, and any others.
    Result<std::string> render(const nlohmann::ordered_json& context,
                               const RenderOptions& options = {}) const;

    // Renders a conversation as Hugging Face's apply_chat_template does: messages (with a
    // message's reasoning_content/thinking/reasoning copied under the other two names first),
    // tools and documents (None unless given), add_generation_prompt, bos_token, eos_token,
    // then the extra variables.
    Result<std::string> render(std::span<const ChatMessage> messages,
                               const ChatRenderOptions& options) const;
    Result<std::string> render_messages(const nlohmann::ordered_json& messages,
                                        const ChatRenderOptions& options) const;

    const std::string& source() const;

    struct Impl;

private:
    explicit ChatTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

// ---- built-in templates (templates/ in the source tree, compiled into the engine) ----

struct BuiltinTemplate {
    std::string name; // "chatml", "llama3", ...
    std::string description;
    std::vector<std::string> stop; // stop strings for generation
    bool supports_system = true;
    std::string bos_token; // the family's usual BOS/EOS strings, for models that give none
    std::string eos_token;
    std::vector<std::string> tokens; // special tokens the template writes
    std::string source;              // the Jinja text
};

const std::vector<BuiltinTemplate>& builtin_templates();
const BuiltinTemplate* find_builtin_template(std::string_view name);

// ---- choosing a template for a model ----

enum class TemplateOrigin { embedded, builtin, raw };

struct TemplateChoice {
    TemplateOrigin origin = TemplateOrigin::raw;
    std::string name;   // "model" for an embedded template, else the built-in's name
    std::string source; // the Jinja text
    std::string reason; // why, for the UI: "the vocabulary has <|im_start|>"
};

// Whether a string is one token of the model's vocabulary.
using VocabularyLookup = std::function<bool(std::string_view)>;

// The model's own template when it has one; else a built-in matched from the vocabulary's
// special tokens (<|im_start|> → chatml, <|start_header_id|> → llama3, [INST] → mistral,
// <start_of_turn> → gemma, <|user|> with <|end|> → phi3, <｜User｜> → deepseek); else raw.
TemplateChoice choose_template(std::string_view embedded_template,
                               const std::vector<std::string>& vocabulary);
TemplateChoice choose_template(std::string_view embedded_template,
                               const VocabularyLookup& has_token);

// ---- warnings the UI shows about a choice ----

enum class TemplateWarningKind {
    missing_special_tokens, // the template writes special tokens the vocabulary lacks
    base_model_with_chat_template,
    chat_model_used_raw,
};

struct TemplateWarning {
    TemplateWarningKind kind;
    std::string message;             // one sentence for the user
    std::vector<std::string> tokens; // the missing tokens, for missing_special_tokens
};

// What the warnings need to know about the model, as plain data (from GGUF metadata and the
// vocabulary): no dependency on a loaded tokenizer.
struct ModelTemplateFacts {
    std::string name;              // general.name or the file name
    std::vector<std::string> tags; // general.tags
    std::string embedded_template; // tokenizer.chat_template, empty when none
    VocabularyLookup has_token;    // null: vocabulary unknown, token checks skipped
};

std::vector<TemplateWarning> template_warnings(const ModelTemplateFacts& model,
                                               std::string_view template_source, bool is_raw);

// The special-token-looking strings a template writes (<|...|>, <｜...｜>, <start_of_turn>,
// [INST], ...), in order of first appearance.
std::vector<std::string> template_special_tokens(std::string_view template_source);

} // namespace hearth
