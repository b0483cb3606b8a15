// See bench_sequences.h. The prompt is a count ("1, 2, 3, ...") long enough to reach
// n_prompt tokens: greedy decoding goes on counting, so no sequence stops early and every
// step really holds N tokens.
#include "bench_sequences.h"

#include "hearth/batch_generation.h"
#include "hearth/model.h"
#include "hearth/session.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <sstream>

namespace hearth::bench {

std::vector<int> parse_sequence_counts(const std::string& list) {
    std::vector<int> counts;
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        char* end = nullptr;
        const long n = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || n < 1 || n > long(kMaxSequencesTogether)) {
            return {};
        }
        counts.push_back(static_cast<int>(n));
    }
    return counts;
}

int bench_sequences(const SequencesOptions& o) {
    auto model = Model::load(o.model, {.n_threads = o.n_threads, .on_progress = {}});
    if (!model) {
        std::fprintf(stderr, "hearth-bench: %s\n", model.error().message.c_str());
        return 1;
    }
    const Tokenizer& tokenizer = (*model)->tokenizer();
    std::string text;
    std::vector<int32_t> prompt;
    for (int i = 1; static_cast<int>(prompt.size()) < std::max(o.n_prompt, 2); ++i) {
        text += fmt::format("{}, ", i);
        auto tokens = tokenizer.encode(text, {.add_special = true, .parse_special = false});
        if (!tokens) {
            std::fprintf(stderr, "hearth-bench: %s\n", tokens.error().message.c_str());
            return 1;
        }
        prompt = std::move(*tokens);
    }
    prompt.resize(static_cast<size_t>(std::max(o.n_prompt, 2)));
    const uint32_t n_ctx = std::min<uint32_t>(static_cast<uint32_t>(prompt.size() + o.n_gen + 8),
                                              (*model)->info().n_ctx_train);
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    greedy.repeat_penalty = 1.0f;

    std::printf("| sequences | prompt tokens computed (alone) | prefill ms | decode t/s, all "
                "sequences | per sequence | vs 1 sequence |\n|---|---|---|---|---|---|\n");
    double single = 0;
    for (int n : o.counts) {
        std::vector<Session> sessions;
        for (int i = 0; i < n; ++i) {
            auto session = Session::create(*model, {.n_ctx = n_ctx});
            if (!session) {
                std::fprintf(stderr, "hearth-bench: %s\n", session.error().message.c_str());
                return 1;
            }
            sessions.push_back(std::move(*session));
        }
        std::vector<SequenceRequest> requests;
        for (auto& session : sessions) {
            requests.push_back({.session = &session,
                                .prompt = prompt,
                                .sampling = greedy,
                                .options = {.max_tokens = o.n_gen, .stop_strings = {}},
                                .on_token = {}});
        }
        std::vector<double> rates;
        double prefill_ms = 0;
        uint64_t prefill_tokens = 0;
        for (int r = 0; r <= o.repetitions; ++r) { // r == 0 warms up
            for (auto& session : sessions) {
                session.clear();
            }
            auto result = generate_together(requests);
            if (!result) {
                std::fprintf(stderr, "hearth-bench: %s\n", result.error().message.c_str());
                return 1;
            }
            for (const auto& s : result->sequences) {
                if (s.n_generated != o.n_gen) {
                    std::fprintf(stderr, "hearth-bench: a sequence stopped after %d tokens (%s)\n",
                                 s.n_generated, stop_reason_name(s.stop));
                }
            }
            if (r > 0) {
                rates.push_back(result->decode_tokens_per_second());
                prefill_ms += result->prefill_ms / o.repetitions;
                prefill_tokens = result->n_computed - uint64_t(result->n_steps) * uint64_t(n);
            }
        }
        double mean = 0;
        for (double v : rates)
            mean += v / static_cast<double>(rates.size());
        double var = 0;
        for (double v : rates)
            var += (v - mean) * (v - mean);
        const double sd = rates.size() > 1 ? std::sqrt(var / double(rates.size() - 1)) : 0.0;
        if (n == 1) {
            single = mean;
        }
        std::printf("| %d | %llu (%zu) | %.1f | %.1f ± %.1f | %.1f | %s |\n", n,
                    static_cast<unsigned long long>(prefill_tokens), prompt.size() * size_t(n),
                    prefill_ms, mean, sd, mean / n,
                    single > 0 ? fmt::format("{:.2f}×", mean / single).c_str() : "-");
        std::fflush(stdout);
    }
    return 0;
}

} // namespace hearth::bench
