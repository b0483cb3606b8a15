// Diagnoses about memory and the conversation: out of memory (which part grew), a full context
// (turns dropped, the KV cache's cost), refusals (and what may cause them); and the names and
// JSON every diagnosis shares.
#include "doctor_internal.h"
#include "hearth/diagnosis.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace hearth {

const char* diagnosis_kind_name(DiagnosisKind kind) {
    switch (kind) {
    case DiagnosisKind::out_of_memory:
        return "out_of_memory";
    case DiagnosisKind::template_mismatch:
        return "template_mismatch";
    case DiagnosisKind::base_model_chat:
        return "base_model_chat";
    case DiagnosisKind::temperature_too_high:
        return "temperature_too_high";
    case DiagnosisKind::tokenizer_round_trip:
        return "tokenizer_round_trip";
    case DiagnosisKind::high_entropy:
        return "high_entropy";
    case DiagnosisKind::repetition_loop:
        return "repetition_loop";
    case DiagnosisKind::slow:
        return "slow";
    case DiagnosisKind::refusal:
        return "refusal";
    case DiagnosisKind::context_full:
        return "context_full";
    }
    return "unknown";
}

const char* severity_name(Severity severity) {
    switch (severity) {
    case Severity::info:
        return "info";
    case Severity::warning:
        return "warning";
    case Severity::error:
        return "error";
    }
    return "info";
}

nlohmann::ordered_json diagnosis_json(const Diagnosis& diagnosis) {
    nlohmann::ordered_json fixes = nlohmann::ordered_json::array();
    for (const Fix& fix : diagnosis.fixes) {
        fixes.push_back(doctor::fix_json(fix));
    }
    return {{"kind", diagnosis_kind_name(diagnosis.kind)},
            {"severity", severity_name(diagnosis.severity)},
            {"title", diagnosis.title},
            {"explanation", diagnosis.explanation},
            {"evidence", diagnosis.evidence},
            {"fixes", fixes}};
}

std::optional<Diagnosis> diagnose_out_of_memory(const ModelInfo& info, const MemoryEvidence& memory,
                                                const PreflightSettings& settings,
                                                const MachineFacts& machine,
                                                const std::vector<QuantSibling>& siblings) {
    if (memory.needed.total_bytes <= memory.available_bytes) {
        return std::nullopt;
    }
    struct Part {
        const char* name;
        uint64_t fitted, needed;
    };
    const std::array<Part, 5> parts{{
        {"the weights", memory.fitted.weights_bytes, memory.needed.weights_bytes},
        {"the KV cache", memory.fitted.kv_bytes, memory.needed.kv_bytes},
        {"the recurrent state", memory.fitted.recurrent_bytes, memory.needed.recurrent_bytes},
        {"the scratch", memory.fitted.scratch_bytes, memory.needed.scratch_bytes},
        {"the runtime overhead", memory.fitted.overhead_bytes, memory.needed.overhead_bytes},
    }};
    const Part& grew =
        *std::max_element(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
            return int64_t(a.needed - a.fitted) < int64_t(b.needed - b.fitted);
        });
    Diagnosis d{.kind = DiagnosisKind::out_of_memory,
                .severity = Severity::error,
                .title = "Out of memory",
                .explanation = fmt::format("The model needs more memory than the {} has free.",
                                           memory.device == DeviceKind::cpu ? "machine" : "GPU")};
    d.evidence.push_back(fmt::format("Needed {}, {} available.",
                                     doctor::bytes_text(memory.needed.total_bytes),
                                     doctor::bytes_text(memory.available_bytes)));
    if (grew.needed > grew.fitted) {
        d.evidence.push_back(fmt::format(
            "{} grew most: from {} to {}{}.", grew.name, doctor::bytes_text(grew.fitted),
            doctor::bytes_text(grew.needed),
            grew.name == parts[1].name
                ? fmt::format(" ({} to {} tokens × {} sequences)",
                              doctor::thousands(memory.fitted.n_ctx),
                              doctor::thousands(memory.needed.n_ctx), memory.needed.n_seq)
                : std::string()));
    }
    PreflightSettings needed = settings;
    needed.n_ctx = memory.needed.n_ctx;
    needed.n_seq = memory.needed.n_seq;
    d.fixes = doctor::memory_fixes(info, needed, memory.available_bytes, siblings);
    (void)machine;
    return d;
}

std::optional<Diagnosis> diagnose_context_full(const ModelInfo& info,
                                               const ContextEvidence& context,
                                               const PreflightSettings& settings,
                                               const MachineFacts& machine) {
    if (context.dropped_turns == 0 && !context.reply_hit_context_full) {
        return std::nullopt;
    }
    MemoryPlanOptions options = doctor::plan_options(info, settings);
    options.n_ctx = context.n_ctx;
    const MemoryPlan plan = plan_memory(info, options);
    Diagnosis d{.kind = DiagnosisKind::context_full,
                .severity = Severity::warning,
                .title = "The context is full",
                .explanation = "The conversation no longer fits the context window: the oldest "
                               "turns are left out, and the model no longer sees them."};
    if (context.dropped_turns > 0) {
        d.evidence.push_back(
            fmt::format("{} earlier exchange{} ({} messages) left out to fit "
                        "{} tokens.",
                        context.dropped_turns, context.dropped_turns == 1 ? " was" : "s were",
                        context.dropped_messages, doctor::thousands(context.n_ctx)));
    }
    if (context.reply_hit_context_full) {
        d.evidence.push_back("The reply stopped because the context filled up.");
    }
    d.evidence.push_back(fmt::format("The KV cache costs {} per 1,000 tokens ({} at {} tokens).",
                                     doctor::bytes_text(uint64_t(plan.kv_bytes_per_token * 1000)),
                                     doctor::bytes_text(plan.kv_bytes),
                                     doctor::thousands(context.n_ctx)));
    const auto budget = doctor::host_budget(settings, machine);
    const uint32_t want = std::min<uint32_t>(context.n_ctx * 2, info.n_ctx_train);
    if (budget && want > context.n_ctx) {
        const uint32_t largest = largest_fitting_context(info, options, *budget);
        const uint32_t offer = std::min(want, largest);
        if (offer > context.n_ctx) {
            options.n_ctx = offer;
            const MemoryPlan bigger = plan_memory(info, options);
            d.fixes.push_back(
                {.label = fmt::format("Use a context of {} tokens", doctor::thousands(offer)),
                 .effect = fmt::format("the KV cache grows to {}; needs {} of {}",
                                       doctor::bytes_text(bigger.kv_bytes),
                                       doctor::bytes_text(bigger.total_bytes),
                                       doctor::bytes_text(*budget)),
                 .change = {.context = offer},
                 .needed_bytes = bigger.total_bytes});
        }
    }
    return d;
}

namespace {

constexpr std::array<std::string_view, 12> kRefusalOpenings = {
    "I'm sorry",    "I am sorry",    "I apologize", "I can't",     "I cannot", "I can not",
    "I'm not able", "I am not able", "I'm unable",  "I am unable", "As an AI", "I won't"};
constexpr std::array<std::string_view, 9> kRestrictiveWords = {
    "only",     "never",       "do not",    "don't",  "refuse",
    "must not", "not allowed", "forbidden", "decline"};
constexpr std::array<std::string_view, 8> kSafetyWords = {
    "harmful", "unethical",  "dangerous", "illegal",
    "safe",    "respectful", "ethical",   "socially unbiased"};

std::optional<std::string_view> first_found(std::string_view text, auto words) {
    for (std::string_view word : words) {
        if (doctor::contains_ci(text, word)) {
            return word;
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<Diagnosis> diagnose_refusal(const RefusalEvidence& evidence) {
    std::string_view opening = evidence.reply;
    opening.remove_prefix(std::min(opening.find_first_not_of(" \n\t\"*"), opening.size()));
    opening = opening.substr(0, 120);
    const auto refusal = first_found(opening, kRefusalOpenings);
    if (!refusal) {
        return std::nullopt;
    }
    Diagnosis d{.kind = DiagnosisKind::refusal,
                .severity = Severity::info,
                .title = "The model refused",
                .explanation = "Refusals of harmless requests come from the instructions around "
                               "the message more often than from the message itself."};
    d.evidence.push_back(fmt::format("The reply opens with \"{}\".", *refusal));
    if (const auto word = first_found(evidence.system_prompt, kRestrictiveWords)) {
        d.evidence.push_back(fmt::format("The system prompt is restrictive (\"{}\").", *word));
        d.fixes.push_back({.label = "Remove the system prompt",
                           .effect = "the model answers without the restriction",
                           .change = {.system_prompt = ""}});
    }
    // Safety wording in the prompt that neither the user's system prompt nor their message
    // wrote: the template added it.
    for (std::string_view word : kSafetyWords) {
        if (doctor::contains_ci(evidence.rendered_prompt, word) &&
            !doctor::contains_ci(evidence.system_prompt, word) &&
            !doctor::contains_ci(evidence.user_message, word)) {
            d.evidence.push_back(fmt::format("The template adds its own safety preamble (it "
                                             "writes \"{}\" into the prompt).",
                                             word));
            if (evidence.system_prompt.empty()) {
                d.fixes.push_back({.label = "Set a system prompt of your own",
                                   .effect = "the template's default preamble is replaced",
                                   .change = {.system_prompt = "You are a helpful assistant."}});
            }
            break;
        }
    }
    if (evidence.tuning == ModelTuning::base) {
        d.evidence.push_back("It is a base model: its refusals are imitations of text it read, "
                             "not a policy.");
        d.fixes.push_back({.label = "Use the raw template",
                           .effect = "the model continues the text as written",
                           .change = {.template_name = "raw"}});
    }
    return d;
}

} // namespace hearth
