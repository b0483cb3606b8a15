// hearth-cli doctor's runs of a loaded model: the probe reply and its diagnoses, and the
// calibration of the token-stream thresholds (--calibrate).
#include "commands.h"
#include "doctor_output.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

struct TracedReply {
    std::string text;
    GenerationStats stats;
    TokenStreamMonitor monitor;
};

Result<TracedReply> traced_reply(Session& session, std::span<const int32_t> prompt,
                                 SamplingParams sampling, int32_t max_tokens,
                                 const std::vector<std::string>& stop_strings,
                                 StreamThresholds thresholds = default_stream_thresholds()) {
    sampling.trace = true;
    TokenStreamMonitor monitor(thresholds);
    session.clear();
    auto stats =
        session.generate(prompt, sampling, {.max_tokens = max_tokens, .stop_strings = stop_strings},
                         [&](const TokenEvent& event) {
                             monitor.observe(event.token, event.trace);
                             return true;
                         });
    if (!stats) {
        return std::unexpected(stats.error());
    }
    return TracedReply{stats->text, std::move(*stats), std::move(monitor)};
}

std::vector<std::string> missing_tokens(const PromptFormat& format) {
    for (const TemplateWarning& warning : format.warnings) {
        if (warning.kind == TemplateWarningKind::missing_special_tokens) {
            return warning.tokens;
        }
    }
    return {};
}

// The template the model itself points to: "model" when it embeds one, else the built-in its
// vocabulary matches, else "" (none).
std::string model_template_name(const Model& model) {
    const Tokenizer& tokenizer = model.tokenizer();
    const TemplateChoice own = choose_template(
        model.info().chat_template.value_or(""),
        [&tokenizer](std::string_view token) { return tokenizer.find_token(token).has_value(); });
    return own.origin == TemplateOrigin::raw ? "" : own.name;
}

void add(std::vector<Diagnosis>& all, std::optional<Diagnosis> diagnosis) {
    if (diagnosis) {
        all.push_back(std::move(*diagnosis));
    }
}

} // namespace

Result<ProbeReport> probe_reply(Session& session, const PromptFormat& format,
                                const std::string& prompt_text, const std::vector<int32_t>& prompt,
                                const GenerationArgs& generation, const PreflightSettings& settings,
                                const ModelInfo& info, const ModelFileFacts& file,
                                const MachineFacts& machine, int32_t max_tokens) {
    const Model& model = session.model();
    auto reply =
        traced_reply(session, prompt, generation.sampling, max_tokens, format.stop_strings);
    if (!reply) {
        return std::unexpected(reply.error());
    }
    ProbeReport report;
    report.reply = reply->text;
    report.stats = reply->stats;
    // A reply shorter than the window has no window mean: its running mean stands in.
    report.max_mean_entropy =
        std::max(reply->monitor.max_mean_entropy(), reply->monitor.mean_entropy());
    report.worst_loop_repeats = reply->monitor.worst_loop().repeats;
    const ReplyEvidence evidence{.text = reply->text,
                                 .stop = reply->stats.stop,
                                 .n_generated = reply->stats.n_generated,
                                 .template_name = format.choice.name,
                                 .template_source = format.choice.source,
                                 .model_template_name = model_template_name(model),
                                 .template_tokens_missing = missing_tokens(format),
                                 .chat_prompt = format.choice.origin != TemplateOrigin::raw};
    std::vector<Diagnosis>& found = report.diagnoses;
    add(found, diagnose_template_mismatch(evidence));
    add(found, diagnose_base_model_chat(classify_model_tuning(info, file), evidence));
    add(found, diagnose_temperature(generation.sampling));
    add(found, diagnose_tokenizer_round_trip(model.tokenizer(), prompt_text));
    add(found, diagnose_refusal({.reply = reply->text,
                                 .system_prompt = generation.system_prompt,
                                 .rendered_prompt = prompt_text,
                                 .user_message = {},
                                 .tuning = classify_model_tuning(info, file).tuning}));
    add(found, diagnose_context_full(
                   info,
                   {.dropped_turns = 0,
                    .dropped_messages = 0,
                    .reply_hit_context_full = reply->stats.stop == StopReason::context_full,
                    .n_ctx = session.n_ctx()},
                   settings, machine));
    for (Diagnosis& d : reply->monitor.diagnose(&model.tokenizer(), generation.sampling)) {
        found.push_back(std::move(d));
    }
    const int threads = generation.n_threads > 0 ? generation.n_threads : machine.physical_cores;
    if (auto bandwidth = measure_memory_bandwidth_gbs(threads)) {
        report.bandwidth_gbs = *bandwidth;
        const uint64_t bytes_per_token = info.active_weight_bytes;
        report.roofline_tokens_per_second =
            decode_roofline_tokens_per_second(bytes_per_token, *bandwidth);
        add(found,
            diagnose_slow({.decode_tokens_per_second = reply->stats.decode_tokens_per_second(),
                           .bytes_per_token = bytes_per_token,
                           .memory_bandwidth_gbs = *bandwidth,
                           .device = DeviceKind::cpu,
                           .gpu_layers = 0,
                           .n_layer = info.n_layer,
                           .n_threads = threads,
                           .physical_cores = machine.physical_cores,
                           .first_run = false}));
    }
    return report;
}

} // namespace hearth::cli
