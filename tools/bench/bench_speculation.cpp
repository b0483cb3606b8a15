// See bench_speculation.h.
#include "bench_speculation.h"

#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/session.h"
#include "json_output.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <vector>

namespace hearth::bench {
namespace {

// A code edit: the reply repeats most of the prompt's code.
constexpr const char* kCodeEdit =
    R"(Rename the variable `total` to `sum_of_values` in this Python function and return the whole function:

def summarize(values):
    total = 0
    count = 0
    for value in values:
        if value is None:
            continue
        total += value
        count += 1
    if count == 0:
        return None
    average = total / count
    return {"total": total, "count": count, "average": average}
)";

double median(std::vector<double> v) {
    std::ranges::sort(v);
    return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Run {
    std::vector<double> tokens_per_second;
    int32_t n_drafted = 0;
    int32_t n_accepted = 0;
    std::vector<int32_t> reply;
};

} // namespace

int bench_speculation(const SpeculationBenchOptions& o) {
    auto report = [](const std::string& message) {
        std::fprintf(stderr, "hearth-bench: %s\n", message.c_str());
        return 1;
    };
    auto model = Model::load(o.model, {.n_threads = o.n_threads, .on_progress = {}});
    if (!model) {
        return report(model.error().message);
    }
    SpeculationOptions speculation = o.speculation;
    if (!o.draft.empty()) {
        auto draft = Model::load(o.draft, {.n_threads = o.n_threads, .on_progress = {}});
        if (!draft) {
            return report("the --draft model: " + draft.error().message);
        }
        speculation.draft_model = *draft;
    }
    auto format = resolve_prompt_format(**model, "");
    if (!format) {
        return report(format.error().message);
    }
    const std::vector<ChatMessage> messages = {
        {"user", o.prompt.empty() ? std::string(kCodeEdit) : o.prompt}};
    auto text = render_prompt(*format, messages, true, {});
    if (!text) {
        return report(text.error().message);
    }
    auto prompt = tokenize_prompt((*model)->tokenizer(), *text);
    if (!prompt) {
        return report(prompt.error().message);
    }
    const uint32_t n_ctx = static_cast<uint32_t>(prompt->size()) + o.n_gen + 8;
    auto session =
        Session::create(*model, {.n_ctx = std::min(n_ctx, (*model)->info().n_ctx_train)});
    if (!session) {
        return report(session.error().message);
    }
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    greedy.repeat_penalty = 1.0f;
    Run plain, speculative;
    // Alternating, after one warm-up pass of each; each from an empty cache.
    for (int rep = -1; rep < o.repetitions; ++rep) {
        for (Run* run : {&plain, &speculative}) {
            const bool on = run == &speculative;
            session->clear();
            std::vector<int32_t> reply;
            auto stats = session->generate(*prompt, greedy,
                                           {.max_tokens = o.n_gen,
                                            .stop_strings = {},
                                            .speculation = on ? speculation : SpeculationOptions{}},
                                           [&](const TokenEvent& e) {
                                               if (e.token >= 0) {
                                                   reply.push_back(e.token);
                                               }
                                               return true;
                                           });
            if (!stats) {
                return report(stats.error().message);
            }
            run->reply = std::move(reply);
            if (rep >= 0) {
                run->tokens_per_second.push_back(stats->decode_tokens_per_second());
                run->n_drafted += stats->n_drafted;
                run->n_accepted += stats->n_draft_accepted;
            }
        }
    }
    const double base = median(plain.tokens_per_second);
    const double fast = median(speculative.tokens_per_second);
    const double acceptance =
        speculative.n_drafted > 0 ? double(speculative.n_accepted) / speculative.n_drafted : 0;
    const bool same = plain.reply == speculative.reply;
    const std::string how = o.draft.empty()
                                ? fmt::format("lookup {}-gram, draft max {}",
                                              speculation.lookup_ngram, speculation.draft_max)
                                : fmt::format("draft {}, draft max {}, p-min {}", o.draft,
                                              speculation.draft_max, speculation.draft_p_min);
    if (o.json) {
        const nlohmann::json out = {{"model", o.model},
                                    {"speculation", how},
                                    {"n_prompt", prompt->size()},
                                    {"n_gen", plain.reply.size()},
                                    {"plain_tokens_per_second", base},
                                    {"speculative_tokens_per_second", fast},
                                    {"speed_up", base > 0 ? fast / base : 0},
                                    {"drafted", speculative.n_drafted},
                                    {"accepted", speculative.n_accepted},
                                    {"acceptance_rate", acceptance},
                                    {"same_reply", same}};
        std::printf("%s\n", hearth::cli::json_text(out).c_str());
    } else {
        std::printf("| speculation | prompt | reply | plain t/s | speculative t/s | speed-up | "
                    "accepted | same reply |\n|---|---|---|---|---|---|---|---|\n");
        std::printf("| %s | %zu | %zu | %.2f | %.2f | %.2f× | %d of %d (%.1f%%) | %s |\n",
                    how.c_str(), prompt->size(), plain.reply.size(), base, fast,
                    base > 0 ? fast / base : 0.0, speculative.n_accepted, speculative.n_drafted,
                    100.0 * acceptance, same ? "yes" : "NO");
    }
    return same ? 0 : 1;
}

} // namespace hearth::bench
