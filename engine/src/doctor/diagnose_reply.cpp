// Diagnoses of a reply: a template mismatch, a base model given a chat prompt, a temperature
// too high, a prompt the tokenizer does not round-trip, a refusal.
#include "doctor_internal.h"
#include "hearth/chat_template.h"
#include "hearth/diagnosis.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace hearth {
namespace {

// Chat markup that is not a special token of any built-in but that models echo.
constexpr std::array<std::string_view, 10> kTextMarkers = {
    "<<SYS>>",    "<</SYS>>",   "### Instruction:", "### Response:", "USER:",
    "ASSISTANT:", "<|system|>", "<|assistant|>",    "<|im_sep|>",    "<|begin_of_text|>"};

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

} // namespace

std::vector<std::string> find_template_markers(std::string_view text) {
    std::vector<std::pair<size_t, std::string>> found;
    auto look_for = [&](std::string_view marker) {
        if (marker.size() < 3) {
            return;
        }
        const size_t at = text.find(marker);
        const bool seen = std::any_of(found.begin(), found.end(),
                                      [&](const auto& f) { return f.second == marker; });
        if (at != std::string_view::npos && !seen) {
            found.emplace_back(at, std::string(marker));
        }
    };
    for (const BuiltinTemplate& builtin : builtin_templates()) {
        for (const std::string& token : builtin.tokens) {
            look_for(token);
        }
    }
    for (std::string_view marker : kTextMarkers) {
        look_for(marker);
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> markers;
    for (auto& [at, marker] : found) {
        markers.push_back(std::move(marker));
    }
    return markers;
}

std::optional<Diagnosis> diagnose_template_mismatch(const ReplyEvidence& reply) {
    if (!reply.chat_prompt) {
        return std::nullopt; // raw text has no template to mismatch
    }
    const std::vector<std::string> markers = find_template_markers(reply.text);
    const bool ended_at_once =
        reply.stop == StopReason::end_of_generation && reply.n_generated <= kEmptyReplyTokens;
    const bool never_ended =
        reply.stop == StopReason::max_tokens && reply.n_generated >= kRunawayReplyTokens;
    const bool tokens_missing = !reply.template_tokens_missing.empty();
    if (markers.empty() && !(tokens_missing && (ended_at_once || never_ended))) {
        return std::nullopt;
    }
    Diagnosis d{.kind = DiagnosisKind::template_mismatch,
                .severity = Severity::error,
                .title = "The chat template does not match the model",
                .explanation = "The model was tuned on another chat format than the prompt uses: "
                               "it sees unfamiliar markup, imitates it, and does not know when "
                               "its turn ends."};
    d.evidence.push_back(
        fmt::format("The prompt was rendered with the {} template.", reply.template_name));
    if (!markers.empty()) {
        d.evidence.push_back(
            fmt::format("The reply contains chat-template markup: {}.", joined(markers)));
    }
    if (tokens_missing) {
        d.evidence.push_back(fmt::format("The template writes special tokens the model's "
                                         "vocabulary lacks ({}): the model sees them as "
                                         "ordinary text.",
                                         joined(reply.template_tokens_missing)));
    }
    if (ended_at_once) {
        d.evidence.push_back("The model ended its turn at once, with an empty reply.");
    }
    if (never_ended) {
        d.evidence.push_back(fmt::format("The model's end-of-turn token never came: the reply "
                                         "ran to the limit of {} tokens.",
                                         reply.n_generated));
    }
    if (!reply.model_template_name.empty() && reply.model_template_name != reply.template_name) {
        d.fixes.push_back(
            {.label = fmt::format("Use the {} template", reply.model_template_name == "model"
                                                             ? std::string("model's own")
                                                             : reply.model_template_name),
             .effect = "the format the model was tuned on",
             .change = {.template_name = reply.model_template_name}});
    }
    return d;
}

std::optional<Diagnosis> diagnose_base_model_chat(const TuningVerdict& tuning,
                                                  const ReplyEvidence& reply) {
    if (tuning.tuning != ModelTuning::base || !reply.chat_prompt) {
        return std::nullopt;
    }
    Diagnosis d{.kind = DiagnosisKind::base_model_chat,
                .severity = Severity::warning,
                .title = "A base model is given a chat prompt",
                .explanation = "A base model continues text; it was never taught to answer in "
                               "turns. Given chat markup it rambles, echoes the markup or writes "
                               "the user's next message."};
    d.evidence = tuning.evidence;
    d.evidence.push_back(
        fmt::format("The prompt was rendered with the {} template.", reply.template_name));
    if (const auto markers = find_template_markers(reply.text); !markers.empty()) {
        d.evidence.push_back(fmt::format("The reply contains chat markup: {}.", joined(markers)));
    }
    if (reply.stop == StopReason::max_tokens) {
        d.evidence.push_back(
            fmt::format("The reply never ended on its own ({} tokens).", reply.n_generated));
    }
    d.fixes.push_back({.label = "Use the raw template",
                       .effect = "the conversation is sent as plain text to continue",
                       .change = {.template_name = "raw"}});
    return d;
}

std::optional<Diagnosis> diagnose_temperature(const SamplingParams& sampling) {
    if (!(sampling.temperature > kHighTemperature)) {
        return std::nullopt;
    }
    Diagnosis d{.kind = DiagnosisKind::temperature_too_high,
                .severity = Severity::warning,
                .title = "The temperature is too high",
                .explanation = "Above 1.5 the sampled distribution flattens: unlikely tokens are "
                               "drawn often enough to derail every sentence."};
    d.evidence.push_back(fmt::format("Temperature {} (above {}).",
                                     doctor::fmt_number(sampling.temperature),
                                     doctor::fmt_number(kHighTemperature)));
    d.fixes.push_back({.label = "Use temperature 0.7",
                       .effect = "the usual starting point",
                       .change = {.temperature = 0.7f}});
    return d;
}

std::optional<Diagnosis> diagnose_tokenizer_round_trip(const Tokenizer& tokenizer,
                                                       std::string_view prompt_text) {
    auto ids = tokenizer.encode(prompt_text, {.add_special = false, .parse_special = false});
    std::string decoded;
    std::string failure;
    if (!ids) {
        failure = "the tokenizer refuses the text: " + ids.error().message;
    } else {
        decoded = tokenizer.decode(*ids);
        // SentencePiece's leading space (add_space_prefix) is the tokenizer's, not a loss.
        if (decoded.size() == prompt_text.size() + 1 && decoded.front() == ' ' &&
            std::string_view(decoded).substr(1) == prompt_text) {
            return std::nullopt;
        }
        if (decoded == prompt_text) {
            return std::nullopt;
        }
        const auto [a, b] =
            std::mismatch(prompt_text.begin(), prompt_text.end(), decoded.begin(), decoded.end());
        const size_t offset = static_cast<size_t>(a - prompt_text.begin());
        const size_t from = offset > 16 ? offset - 16 : 0;
        failure = fmt::format(
            "the text decoded back differs from byte {}: \"{}\" became \"{}\"", offset,
            gguf_printable(prompt_text.substr(from, 40)),
            gguf_printable(std::string_view(decoded).substr(std::min(from, decoded.size()), 40)));
        (void)b;
    }
    Diagnosis d{.kind = DiagnosisKind::tokenizer_round_trip,
                .severity = Severity::warning,
                .title = "The prompt does not survive tokenization",
                .explanation = "The model sees a different text than was typed: characters "
                               "outside the vocabulary, invalid UTF-8 or normalisation change "
                               "it. Replies about the changed part will be off."};
    d.evidence.push_back(failure + ".");
    return d;
}

} // namespace hearth
