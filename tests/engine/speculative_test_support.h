// Helpers of the speculative decoding tests (tst_speculative, tst_speculative_hybrid): the
// tiny reference models, plain sampling settings, a prompt that repeats itself, and one
// generation's tokens, statistics and cached tokens.
#pragma once

#include "hearth/model.h"
#include "hearth/session.h"
#include "test_support.h"

#include <QtGlobal>
#include <cstdint>
#include <filesystem>
#include <memory>
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

} // namespace hearth::test
