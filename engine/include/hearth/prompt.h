// From a conversation to the tokens a model sees: the template chosen for the model (its
// own, a built-in, or raw), rendered, then tokenized with special tokens parsed and the
// BOS token never doubled.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hearth/chat_template.h"
#include "hearth/error.h"
#include "hearth/model.h"

namespace hearth {

// The template a conversation is rendered with, resolved for one model.
struct PromptFormat {
    TemplateChoice choice;
    std::optional<ChatTemplate> chat_template; // empty for raw
    std::vector<std::string> stop_strings;     // the built-in's; EOG tokens stop the rest
    std::string bos_token;                     // strings the template's bos_token/eos_token get
    std::string eos_token;
    std::vector<TemplateWarning> warnings;
};

// `name`: "" (the model's own, else a built-in matched from its vocabulary, else raw),
// "model", "raw", a built-in's name, or a path to a .jinja file. Fails with a message
// naming the template when it does not parse or does not exist.
Result<PromptFormat> resolve_prompt_format(const Model& model, std::string_view name);

// Renders `messages` (and, when asked, the assistant's generation prompt). Raw format:
// the messages' contents joined, the way a base model continues text.
Result<std::string> render_prompt(const PromptFormat& format, std::span<const ChatMessage> messages,
                                  bool add_generation_prompt);

// Tokenizes a rendered prompt: special tokens written by the template are parsed, and BOS
// is added only when the model wants it and the text does not already start with it.
Result<std::vector<int32_t>> tokenize_prompt(const Tokenizer& tokenizer, std::string_view text,
                                             bool parse_special = true);

} // namespace hearth
