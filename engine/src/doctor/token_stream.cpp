// The live token-stream monitor (entropy of the sampled distributions, repetition loops) and
// the slow-decoding diagnosis against the memory-bandwidth roofline.
#include "doctor_internal.h"
#include "hearth/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace hearth {

double trace_entropy(const SamplingTrace& trace) {
    if (trace.stages.empty()) {
        return 0;
    }
    const SamplingStage& stage = trace.stages.back();
    double entropy = 0, mass = 0;
    for (const SamplingStage::Candidate& c : stage.top) {
        if (c.probability > 0) {
            entropy -= double(c.probability) * std::log(double(c.probability));
            mass += c.probability;
        }
    }
    // The mass beyond the traced candidates, spread evenly over the rest (an upper bound).
    const double rest = std::clamp(1.0 - mass, 0.0, 1.0);
    const int64_t others = int64_t(stage.n_remaining) - int64_t(stage.top.size());
    if (rest > 1e-9 && others > 0) {
        entropy -= rest * std::log(rest / double(others));
    }
    return entropy;
}

StreamThresholds default_stream_thresholds() {
    // docs/DOCTOR.md, "Token-stream thresholds": measured with `hearth-cli doctor --calibrate`
    // on the default model.
    return {
        .window = 32, .high_entropy_nats = 3.0, .ngram = 4, .loop_repeats = 4, .loop_window = 96};
}

TokenStreamMonitor::TokenStreamMonitor(StreamThresholds thresholds) : thresholds_(thresholds) {
    thresholds_.window = std::max<size_t>(thresholds_.window, 1);
    thresholds_.ngram = std::max<size_t>(thresholds_.ngram, 1);
}

void TokenStreamMonitor::observe(int32_t token, const SamplingTrace* trace) {
    tokens_.push_back(token);
    if (!trace) {
        return;
    }
    const double entropy = trace_entropy(*trace);
    entropies_.push_back(entropy);
    entropy_sum_ += entropy;
    if (entropies_.size() > thresholds_.window) {
        entropy_sum_ -= entropies_.front();
        entropies_.pop_front();
    }
    if (entropies_.size() == thresholds_.window) {
        max_mean_entropy_ = std::max(max_mean_entropy_, mean_entropy());
    }
}

double TokenStreamMonitor::mean_entropy() const {
    return entropies_.empty() ? 0 : entropy_sum_ / double(entropies_.size());
}

double TokenStreamMonitor::max_mean_entropy() const {
    return max_mean_entropy_;
}

TokenStreamMonitor::Loop TokenStreamMonitor::worst_loop() const {
    const size_t n = thresholds_.ngram;
    const size_t begin =
        tokens_.size() > thresholds_.loop_window ? tokens_.size() - thresholds_.loop_window : 0;
    std::map<std::vector<int32_t>, size_t> counts;
    Loop worst;
    for (size_t i = begin; i + n <= tokens_.size(); ++i) {
        std::vector<int32_t> gram(tokens_.begin() + ptrdiff_t(i),
                                  tokens_.begin() + ptrdiff_t(i + n));
        const size_t count = ++counts[gram];
        if (count > worst.repeats) {
            worst = {std::move(gram), count};
        }
    }
    return worst;
}

std::vector<Diagnosis> TokenStreamMonitor::diagnose(const Tokenizer* tokenizer,
                                                    const SamplingParams& sampling) const {
    std::vector<Diagnosis> out;
    if (max_mean_entropy_ > thresholds_.high_entropy_nats) {
        Diagnosis d{.kind = DiagnosisKind::high_entropy,
                    .severity = Severity::warning,
                    .title = "The reply is drifting into noise",
                    .explanation = "The model is unsure of almost every token: the sampled "
                                   "distributions are flat, as in gibberish."};
        d.evidence.push_back(fmt::format("The mean entropy of {} tokens in a row reached {:.2f} "
                                         "nats (threshold {:.2f}; healthy replies stay below).",
                                         thresholds_.window, max_mean_entropy_,
                                         thresholds_.high_entropy_nats));
        if (sampling.temperature > 1.0f || (sampling.top_k == 0 && sampling.top_p >= 1.0f)) {
            d.fixes.push_back({.label = "Use temperature 0.7, top-k 40 and top-p 0.9",
                               .effect = "draws stay among the likely tokens",
                               .change = {.temperature = 0.7f, .top_k = 40, .top_p = 0.9f}});
        }
        out.push_back(std::move(d));
    }
    if (const Loop loop = worst_loop();
        loop.repeats >= thresholds_.loop_repeats && thresholds_.loop_repeats > 0) {
        Diagnosis d{.kind = DiagnosisKind::repetition_loop,
                    .severity = Severity::warning,
                    .title = "The reply is stuck in a loop",
                    .explanation = "The same words come back over and over: the model has fallen "
                                   "into a repetition loop, common in small models without a "
                                   "repetition penalty."};
        std::string text;
        if (tokenizer) {
            text = fmt::format(" (\"{}\")", gguf_printable(tokenizer->decode(loop.ngram), 60));
        }
        d.evidence.push_back(fmt::format("The same {} tokens{} came {} times in the last {}.",
                                         loop.ngram.size(), text, loop.repeats,
                                         std::min(tokens_.size(), thresholds_.loop_window)));
        if (sampling.repeat_penalty < 1.1f) {
            d.fixes.push_back({.label = "Use repetition penalty 1.1",
                               .effect = "tokens of the last 64 are made less likely",
                               .change = {.repeat_penalty = 1.1f}});
        }
        if (sampling.temperature == 0.0f) {
            d.fixes.push_back({.label = "Use temperature 0.7",
                               .effect = "greedy decoding repeats itself; sampling breaks loops",
                               .change = {.temperature = 0.7f}});
        }
        out.push_back(std::move(d));
    }
    return out;
}

double decode_roofline_tokens_per_second(uint64_t bytes_per_token, double bandwidth_gbs) {
    return bytes_per_token > 0 ? bandwidth_gbs * 1e9 / double(bytes_per_token) : 0;
}

std::optional<Diagnosis> diagnose_slow(const SpeedEvidence& speed) {
    const double roofline =
        decode_roofline_tokens_per_second(speed.bytes_per_token, speed.memory_bandwidth_gbs);
    const double tps = speed.decode_tokens_per_second;
    const bool below_roofline = roofline > 0 && tps < kRooflineShare * roofline;
    if (tps <= 0 || (tps >= kSlowTokensPerSecond && !below_roofline)) {
        return std::nullopt;
    }
    Diagnosis d{.kind = DiagnosisKind::slow, .severity = Severity::warning, .title = "Slow"};
    d.evidence.push_back(fmt::format("Decoding ran at {:.1f} tokens/s.", tps));
    if (roofline > 0) {
        d.evidence.push_back(fmt::format(
            "Each token reads {} at a measured {:.1f} GB/s: this machine's roofline is {:.1f} "
            "tokens/s, and the decode reached {:.0f}% of it.",
            doctor::bytes_text(speed.bytes_per_token), speed.memory_bandwidth_gbs, roofline,
            100.0 * tps / roofline));
    }
    const bool partial = speed.device == DeviceKind::cuda && speed.gpu_layers < speed.n_layer;
    if (speed.first_run) {
        d.severity = Severity::info;
        d.title = "The first run is warming up";
        d.explanation = "The first generation after loading reads the model's pages from disk "
                        "and warms the caches; the next runs are faster.";
    } else if (partial) {
        d.title = "Layers are on the CPU";
        d.explanation = fmt::format("{} of {} layers run on the CPU, whose memory is far slower "
                                    "than the GPU's; each token waits for them.",
                                    speed.n_layer - speed.gpu_layers, speed.n_layer);
    } else if (speed.n_threads > 0 && speed.physical_cores > 0 &&
               speed.n_threads * 2 <= speed.physical_cores) {
        d.title = "Too few threads";
        d.explanation = fmt::format("{} threads on {} cores leave most of the memory bandwidth "
                                    "unused.",
                                    speed.n_threads, speed.physical_cores);
        d.fixes.push_back({.label = fmt::format("Use {} threads", speed.physical_cores),
                           .effect = "one per physical core",
                           .change = {.threads = speed.physical_cores}});
    } else if (!below_roofline) {
        d.severity = Severity::info;
        d.title = "As fast as this machine goes";
        d.explanation = "The decode is at this machine's memory-bandwidth roofline: every token "
                        "reads the whole model. A smaller quantization or a smaller model reads "
                        "less and runs faster.";
    } else {
        d.explanation = "The decode is far below what the memory bandwidth allows, with no "
                        "cause found here: other programs may be using the CPU.";
        if (speed.physical_cores > 0 && speed.n_threads != speed.physical_cores) {
            d.fixes.push_back({.label = fmt::format("Use {} threads", speed.physical_cores),
                               .effect = "one per physical core",
                               .change = {.threads = speed.physical_cores}});
        }
    }
    return d;
}

} // namespace hearth
