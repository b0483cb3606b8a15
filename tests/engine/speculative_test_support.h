// Helpers of the speculative decoding tests (tst_speculative, tst_speculative_hybrid,
// tst_speculative_model): the tiny reference models, plain sampling settings, a prompt that
// repeats itself, one generation's tokens, statistics and cached tokens, requests on a
// scheduler, and the seeded-sampling check.
#pragma once

#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"
#include "test_support.h"

#include <QtGlobal>
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hearth::test {

// Sampling at `temperature` with every filter and penalty off.
inline SamplingParams plain_sampling(float temperature) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

inline std::filesystem::path arch_file(const std::string& name) {
    return data_dir() / "arch" / (name + ".gguf");
}

// The model at `path`, or nullptr with the error logged.
inline std::shared_ptr<const Model> load_model(const std::filesystem::path& path) {
    auto model = Model::load(path);
    if (!model) {
        qWarning("%s", model.error().message.c_str());
        return nullptr;
    }
    return *model;
}

struct Generated {
    std::vector<int32_t> tokens;
    GenerationStats stats;
    std::vector<int32_t> cached;
};

// One reply of `session` to `prompt`; empty, with the error logged, when it fails.
inline Generated generate(Session& session, const std::vector<int32_t>& prompt, int max_tokens,
                          const SpeculationOptions& speculation, const SamplingParams& sampling) {
    Generated out;
    GenerateOptions options{
        .max_tokens = max_tokens, .stop_strings = {}, .speculation = speculation};
    auto stats = session.generate(prompt, sampling, options, [&](const TokenEvent& e) {
        if (e.token >= 0) {
            out.tokens.push_back(e.token);
        }
        return true;
    });
    if (!stats) {
        qWarning("%s", stats.error().message.c_str());
        return out;
    }
    out.stats = *stats;
    out.cached = session.cached_tokens();
    return out;
}

// A prompt that repeats a phrase, so that lookup finds n-grams and random models repeat too.
inline std::vector<int32_t> repeating_prompt(int32_t n_vocab, size_t length, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> phrase(7);
    for (auto& t : phrase) {
        t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab - 10)) + 5;
    }
    std::vector<int32_t> prompt;
    while (prompt.size() < length) {
        prompt.insert(prompt.end(), phrase.begin(), phrase.end());
        prompt.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab - 10)) + 5);
    }
    return prompt;
}

// The replies of requests submitted together to `scheduler` (prompts[i] with speculation[i],
// greedy), once all are done.
struct ScheduledReplies {
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::optional<Result<GenerationStats>>> done;
};
inline ScheduledReplies scheduled_replies(Scheduler& scheduler,
                                          const std::vector<std::vector<int32_t>>& prompts,
                                          const std::vector<SpeculationOptions>& speculation,
                                          int max_tokens, const SamplingParams& sampling) {
    ScheduledReplies out;
    out.tokens.resize(prompts.size());
    out.done.resize(prompts.size());
    std::mutex mu;
    std::condition_variable cv;
    for (size_t i = 0; i < prompts.size(); ++i) {
        auto id = scheduler.submit({.prompt = prompts[i],
                                    .sampling = sampling,
                                    .options = {.max_tokens = max_tokens,
                                                .stop_strings = {},
                                                .speculation = speculation[i]},
                                    .on_token =
                                        [&out, i](const TokenEvent& e) {
                                            if (e.token >= 0) {
                                                out.tokens[i].push_back(e.token);
                                            }
                                            return true;
                                        },
                                    .on_done =
                                        [&, i](RequestId, const Result<GenerationStats>& stats) {
                                            std::lock_guard lock(mu);
                                            out.done[i] = stats;
                                            cv.notify_all();
                                        }});
        if (!id) {
            out.done[i] = std::unexpected(id.error());
        }
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] {
        return std::ranges::all_of(out.done, [](const auto& d) { return d.has_value(); });
    });
    return out;
}

// Two sessions sampling with the same seed and speculation (lookup, then `draft` as the draft
// model) give the same 32 tokens, drafts made; the failure, or an empty string.
inline std::string seeded_sampling_failure(const std::shared_ptr<const Model>& model,
                                           const std::shared_ptr<const Model>& draft) {
    const auto prompt = repeating_prompt(int32_t(model->info().n_vocab), 30, 5);
    SamplingParams sampling = plain_sampling(0.9f);
    sampling.seed = 42;
    for (const SpeculationOptions& mode :
         {SpeculationOptions{.mode = SpeculationMode::lookup, .lookup_ngram = 2},
          SpeculationOptions{
              .mode = SpeculationMode::draft_model, .draft_p_min = 0.0f, .draft_model = draft}}) {
        auto a = Session::create(model, {.n_ctx = 128});
        auto b = Session::create(model, {.n_ctx = 128});
        if (!a || !b) {
            return "no session";
        }
        const Generated first = generate(*a, prompt, 32, mode, sampling);
        const Generated second = generate(*b, prompt, 32, mode, sampling);
        if (first.tokens.size() != 32 || first.tokens != second.tokens) {
            return std::string(speculation_mode_name(mode.mode)) + ": the replies differ";
        }
        if (first.stats.n_drafted == 0) {
            return std::string(speculation_mode_name(mode.mode)) + ": nothing drafted";
        }
    }
    return {};
}

} // namespace hearth::test
