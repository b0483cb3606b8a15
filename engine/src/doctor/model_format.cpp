// Facts of a model file beyond its hyper-parameters (name, fine-tune, tags, vocabulary), and
// whether it is a base or a chat-tuned model, with the evidence.
#include "doctor_internal.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace hearth {
namespace {

std::string string_key(const GgufFile& file, std::string_view key) {
    return file.header().get_string(key).value_or("");
}

std::optional<std::string> token_text(const ModelFileFacts& facts, const GgufFile& file,
                                      std::string_view key) {
    const auto id = file.header().get_int(key);
    if (!id || *id < 0 || static_cast<uint64_t>(*id) >= facts.vocabulary.size()) {
        return std::nullopt;
    }
    return facts.vocabulary[static_cast<size_t>(*id)];
}

// The words that mark a fine-tune for chat, as model names and llama.cpp's general.finetune
// spell them.
constexpr std::array<std::string_view, 9> kChatWords = {
    "instruct", "chat", "-it", "_it", ".it", "sft", "dpo", "rlhf", "assistant"};

std::optional<std::string_view> chat_word_in(std::string_view text) {
    for (std::string_view word : kChatWords) {
        if (doctor::contains_ci(text, word)) {
            return word;
        }
    }
    // "…-it" at the very end, or "it" as the whole fine-tune
    if (text.size() >= 3 && doctor::contains_ci(text.substr(text.size() - 3), "-it")) {
        return "-it";
    }
    return std::nullopt;
}

} // namespace

Result<ModelFileFacts> read_model_file_facts(const GgufFile& file) {
    ModelFileFacts facts;
    facts.file_name = file.path().filename().string();
    facts.name = string_key(file, "general.name");
    facts.basename = string_key(file, "general.basename");
    facts.finetune = string_key(file, "general.finetune");
    facts.size_label = string_key(file, "general.size_label");
    facts.embedded_template = string_key(file, "tokenizer.chat_template");
    if (const GgufValue* tags = file.find("general.tags"); tags && tags->as_array()) {
        const GgufArray& array = *tags->as_array();
        for (size_t i = 0; i < array.size(); ++i) {
            if (const auto text = array.string_at(i)) {
                facts.tags.emplace_back(*text);
            }
        }
    }
    const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
    if (!tokens || !tokens->as_array()) {
        return fail(ErrorCode::bad_format, "tokenizer.ggml.tokens is missing or not an array");
    }
    const GgufArray& vocabulary = *tokens->as_array();
    facts.vocabulary.reserve(vocabulary.size());
    for (size_t i = 0; i < vocabulary.size(); ++i) {
        const auto text = vocabulary.string_at(i);
        if (!text) {
            return fail(ErrorCode::bad_format, "tokenizer.ggml.tokens holds a value that is not "
                                               "a string");
        }
        facts.vocabulary.emplace_back(*text);
    }
    facts.bos_token = token_text(facts, file, "tokenizer.ggml.bos_token_id").value_or("");
    facts.eos_token = token_text(facts, file, "tokenizer.ggml.eos_token_id").value_or("");
    return facts;
}

const char* model_tuning_name(ModelTuning tuning) {
    switch (tuning) {
    case ModelTuning::chat:
        return "chat-tuned";
    case ModelTuning::base:
        return "base";
    case ModelTuning::unknown:
        return "unknown";
    }
    return "unknown";
}

TuningVerdict classify_model_tuning(const ModelInfo& info, const ModelFileFacts& file) {
    TuningVerdict verdict;
    int chat = 0, base = 0;
    if (!file.embedded_template.empty()) {
        ++chat;
        verdict.evidence.push_back(fmt::format("It carries a chat template "
                                               "(tokenizer.chat_template, {} characters): "
                                               "chat-tuned.",
                                               file.embedded_template.size()));
    } else {
        verdict.evidence.push_back("It carries no chat template (tokenizer.chat_template "
                                   "absent): a base model, or a chat model converted without it.");
    }
    const std::pair<const char*, const std::string*> names[] = {
        {"general.name", &file.name},
        {"general.finetune", &file.finetune},
        {"the file name", &file.file_name}};
    for (const auto& [where, text] : names) {
        if (text->empty()) {
            continue;
        }
        if (auto word = chat_word_in(*text)) {
            ++chat;
            verdict.evidence.push_back(fmt::format("{} \"{}\" has \"{}\": chat-tuned.", where,
                                                   gguf_printable(*text), *word));
        } else if (doctor::contains_ci(*text, "base")) {
            ++base;
            verdict.evidence.push_back(
                fmt::format("{} \"{}\" says base.", where, gguf_printable(*text)));
        }
    }
    for (const std::string& tag : file.tags) {
        if (doctor::contains_ci(tag, "base")) {
            ++base;
            verdict.evidence.push_back(
                fmt::format("The tag \"{}\" says base.", gguf_printable(tag)));
        } else if (chat_word_in(tag) || doctor::contains_ci(tag, "conversational")) {
            ++chat;
            verdict.evidence.push_back(
                fmt::format("The tag \"{}\" says chat-tuned.", gguf_printable(tag)));
        }
    }
    if (base > 0 && base >= chat) {
        verdict.tuning = ModelTuning::base;
    } else if (chat > 0) {
        verdict.tuning = ModelTuning::chat;
    } else if (file.embedded_template.empty()) {
        // Nothing says chat: a file without a template and without a chat-tuned name is a
        // base model far more often than not.
        verdict.tuning = ModelTuning::base;
        verdict.evidence.push_back("Nothing in its name, fine-tune or tags says chat-tuned.");
    }
    (void)info;
    return verdict;
}

} // namespace hearth
