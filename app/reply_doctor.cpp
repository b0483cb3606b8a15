// The pitfall doctor on the chat's replies: evidence gathered, diagnoses asked of the engine.
#include "reply_doctor.h"

#include "hearth/gguf.h"

namespace {

std::vector<std::string> missingTemplateTokens(const hearth::PromptFormat& format) {
    for (const hearth::TemplateWarning& warning : format.warnings) {
        if (warning.kind == hearth::TemplateWarningKind::missing_special_tokens) {
            return warning.tokens;
        }
    }
    return {};
}

// The template the model itself points to: "model" when it embeds one, else the built-in its
// vocabulary matches, else "".
std::string ownTemplateName(const hearth::Model& model) {
    const hearth::Tokenizer& tokenizer = model.tokenizer();
    const hearth::TemplateChoice own = hearth::choose_template(
        model.info().chat_template.value_or(""),
        [&tokenizer](std::string_view token) { return tokenizer.find_token(token).has_value(); });
    return own.origin == hearth::TemplateOrigin::raw ? "" : own.name;
}

void add(std::vector<hearth::Diagnosis>& all, std::optional<hearth::Diagnosis> diagnosis) {
    if (diagnosis) {
        all.push_back(std::move(*diagnosis));
    }
}

} // namespace

void ReplyDoctor::modelLoaded(const std::string& path, const hearth::Model& model) {
    m_tuning.reset();
    auto gguf = hearth::GgufFile::open(path);
    if (!gguf) {
        return;
    }
    if (auto facts = hearth::read_model_file_facts(*gguf)) {
        m_tuning = hearth::classify_model_tuning(model.info(), *facts);
    }
}

std::vector<hearth::Diagnosis> ReplyDoctor::diagnose(const hearth::Model& model,
                                                     const Reply& reply) {
    if (!m_machine) {
        m_machine = hearth::read_machine_facts();
    }
    const hearth::ModelInfo& info = model.info();
    const hearth::ReplyEvidence evidence{
        .text = reply.stats.text,
        .stop = reply.stats.stop,
        .n_generated = reply.stats.n_generated,
        .template_name = reply.format.choice.name,
        .template_source = reply.format.choice.source,
        .model_template_name = ownTemplateName(model),
        .template_tokens_missing = missingTemplateTokens(reply.format),
        .chat_prompt = reply.format.choice.origin != hearth::TemplateOrigin::raw};
    const bool cancelled = reply.stats.stop == hearth::StopReason::cancelled;
    std::vector<hearth::Diagnosis> found;
    if (!cancelled) { // a reply the user stopped says nothing about its end
        add(found, hearth::diagnose_template_mismatch(evidence));
        if (m_tuning) {
            add(found, hearth::diagnose_base_model_chat(*m_tuning, evidence));
        }
    }
    add(found, hearth::diagnose_temperature(reply.sampling));
    add(found, hearth::diagnose_tokenizer_round_trip(model.tokenizer(), reply.userMessage));
    add(found, hearth::diagnose_refusal(
                   {.reply = reply.stats.text,
                    .system_prompt = reply.systemPrompt,
                    .rendered_prompt = reply.renderedPrompt,
                    .user_message = reply.userMessage,
                    .tuning = m_tuning ? m_tuning->tuning : hearth::ModelTuning::unknown}));
    hearth::PreflightSettings settings;
    settings.n_ctx = reply.nCtx;
    add(found, hearth::diagnose_context_full(
                   info,
                   {.dropped_turns = reply.droppedTurns,
                    .dropped_messages = reply.droppedMessages,
                    .reply_hit_context_full = reply.stats.stop == hearth::StopReason::context_full,
                    .n_ctx = reply.nCtx},
                   settings, *m_machine));
    for (hearth::Diagnosis& d : reply.monitor.diagnose(&model.tokenizer(), reply.sampling)) {
        // Greedy decoding draws the likeliest token however wide the distribution: a high
        // entropy then is no sign of noise in the reply (the thresholds are for sampling).
        if (d.kind == hearth::DiagnosisKind::high_entropy && reply.sampling.temperature <= 0) {
            continue;
        }
        found.push_back(std::move(d));
    }
    // Speed against the absolute threshold only: the bandwidth probe (a second of streaming
    // 256 MiB) is hearth-cli doctor's, too heavy to run behind every reply.
    add(found,
        hearth::diagnose_slow({.decode_tokens_per_second = reply.stats.decode_tokens_per_second(),
                               .bytes_per_token = info.active_weight_bytes,
                               .memory_bandwidth_gbs = 0,
                               .device = reply.device,
                               .gpu_layers = reply.gpuLayers,
                               .n_layer = info.n_layer,
                               .n_threads = reply.nThreads,
                               .physical_cores = m_machine->physical_cores,
                               .first_run = reply.firstRun}));
    return found;
}
