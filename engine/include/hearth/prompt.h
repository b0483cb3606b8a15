// From a conversation to the tokens a model sees: the template chosen for the model (its
// own, a built-in, or raw), rendered, then tokenized with special tokens parsed and the
// BOS token never doubled.
#pragma once

#include "hearth/chat_template.h"
#include "hearth/error.h"
#include "hearth/model.h"
#include "hearth/reasoning.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// The template a conversation is rendered with, resolved for one model.
struct PromptFormat {
    TemplateChoice choice;
    std::optional<ChatTemplate> chat_template; // empty for raw
    std::vector<std::string> stop_strings;     // the built-in's; EOG tokens stop the rest
    std::string bos_token;                     // strings the template's bos_token/eos_token get
    std::string eos_token;
    std::vector<TemplateWarning> warnings;
    // How the template marks a reply's reasoning and which variable switches it, detected
    // from its source and the vocabulary (hearth/reasoning.h).
    ReasoningFormat reasoning;
};

// The largest template file hearth-cli's --template reads (docs/LIMITS.md): real chat
// templates, tool-calling ones included, are under 64 KiB.
inline constexpr size_t kMaxTemplateFileBytes = size_t{1} << 20;

// Whether `name` is one resolve_prompt_format takes: "", "model", "raw" or a built-in's name.
// A saved conversation or compare session may name only these, so that a value read from a
// file never makes Hearth read another file.
bool is_template_name(std::string_view name);

// `name`: "" (the model's own, else a built-in matched from its vocabulary, else raw),
// "model", "raw" or a built-in's name; never a path (a template kept in a file is read by
// the caller, at the user's request, and given to resolve_prompt_format_source). Fails with
// a message naming the template when it is unknown or does not parse.
Result<PromptFormat> resolve_prompt_format(const Model& model, std::string_view name);

// A template given as Jinja text: what hearth-cli's --template FILE read, or a custom
// template stored inline in a saved conversation. `label` names it in PromptFormat::choice
// and in messages ("my-template.jinja"). No stop strings of its own: the model's EOG tokens
// stop it. Fails with a message naming `label` when the text does not parse.
Result<PromptFormat> resolve_prompt_format_source(const Model& model, std::string_view label,
                                                  std::string source);

// Renders `messages` (and, when asked, the assistant's generation prompt), with `variables`
// (a JSON object: ThinkingSwitch::variables' enable_thinking, ...) added to the template's.
// Raw format: the messages' contents joined, the way a base model continues text.
Result<std::string> render_prompt(const PromptFormat& format, std::span<const ChatMessage> messages,
                                  bool add_generation_prompt,
                                  const nlohmann::ordered_json& variables = {});

// Tokenizes a rendered prompt: special tokens written by the template are parsed, and BOS
// is added only when the model wants it and the text does not already start with it.
Result<std::vector<int32_t>> tokenize_prompt(const Tokenizer& tokenizer, std::string_view text,
                                             bool parse_special = true);

// The room a reply is given when the conversation is fitted to the context: its max tokens,
// but at most a quarter of the context, so that a long reply setting does not leave a small
// context without history (and at least 1). The chat, Compare and hearth-cli use it alike.
size_t reply_reserve(int max_tokens, size_t n_ctx);

// A conversation fitted to a context: the prompt as sent, and what was left out.
struct FittedPrompt {
    std::string text;            // rendered, with the generation prompt
    std::vector<int32_t> tokens; // tokenize_prompt(text)
    size_t dropped_turns = 0;    // exchanges left out: a user message and the replies after it
    size_t dropped_messages = 0; // the messages those exchanges held
};

// The one context-overflow policy: renders `messages` (a system prompt first or not, ending
// with the user's message) with the generation prompt and tokenizes them; while the prompt
// and `reserve` tokens do not fit `n_ctx`, leaves out the oldest exchange (a user message
// with the assistant and tool messages after it; messages before the first user one are one
// exchange), never the leading system prompt and never the last exchange. Earlier replies'
// reasoning is given to the template, which keeps or drops it as the model was trained.
//
// When only the system prompt and the last exchange are left it is enough that they leave
// room for one token: the reply then gets what the context has left. Fails with
// `context_full`, giving the arithmetic, when they do not; `invalid_argument` for a context
// of 0 or an empty conversation; the render's and tokenizer's own errors.
// Renders O(log turns) times (the oldest exchanges to leave out are found by bisection).
Result<FittedPrompt> fit_prompt(const PromptFormat& format, const Tokenizer& tokenizer,
                                std::span<const ChatMessage> messages, size_t n_ctx, size_t reserve,
                                const nlohmann::ordered_json& variables = {});

} // namespace hearth
