// hearth-cli doctor --calibrate: measures the token-stream monitor's signals on real replies of
// a model under healthy and broken sampling, to set the thresholds (docs/DOCTOR.md records the
// default model's numbers).
#include "commands.h"
#include "doctor_output.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

constexpr std::array<const char*, 6> kPrompts = {
    "What is the capital of France?",  "Write a short poem about the sea.",
    "Explain how a bicycle works.",    "Give me three tips for learning a new language.",
    "Tell me a story about a dragon.", "What should I cook for dinner tonight?",
};
constexpr int32_t kTokens = 128;

struct Condition {
    const char* name;
    bool healthy; // what the thresholds must not flag
    SamplingParams sampling;
};

std::vector<Condition> conditions() {
    SamplingParams usual; // temperature 0.7, top-k 40, top-p 0.9, repetition penalty 1.1
    SamplingParams usual_other_seed = usual;
    usual_other_seed.seed = 7;
    SamplingParams greedy = usual;
    greedy.temperature = 0;
    SamplingParams hot = usual;
    hot.temperature = 2.5f;
    hot.top_k = 0;
    hot.top_p = 1.0f;
    SamplingParams loop_prone = usual;
    loop_prone.temperature = 0;
    loop_prone.repeat_penalty = 1.0f;
    return {{"usual", true, usual},
            {"usual, seed 7", true, usual_other_seed},
            {"greedy", true, greedy},
            {"hot: temp 2.5, top-k 0, top-p 1", false, hot},
            {"greedy, no repetition penalty", false, loop_prone}};
}

struct Measured {
    double entropy = 0;
    size_t repeats = 0;
};

} // namespace

int run_calibration(const std::string& path, const GenerationArgs& generation) {
    auto model = Model::load(path, {.n_threads = generation.n_threads, .on_progress = {}});
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    auto format = resolve_cli_template(**model, generation.template_name);
    if (!format) {
        return report_error(format.error().message.c_str());
    }
    SessionOptions options = generation.session;
    options.device = DeviceKind::cpu;
    auto session = Session::create(*model, options);
    if (!session) {
        return report_error(session.error().message.c_str());
    }
    const StreamThresholds thresholds = default_stream_thresholds();
    std::printf("%-34s %-48s %9s %8s\n", "sampling", "prompt", "entropy", "repeats");
    std::vector<Measured> healthy, broken_hot, broken_loop;
    for (const Condition& condition : conditions()) {
        for (const char* question : kPrompts) {
            const ChatMessage message{"user", question};
            auto text = render_prompt(*format, std::span(&message, 1), true);
            auto prompt = text ? tokenize_prompt((*model)->tokenizer(), *text)
                               : Result<std::vector<int32_t>>(std::unexpected(text.error()));
            if (!prompt) {
                return report_error(prompt.error().message.c_str());
            }
            SamplingParams sampling = condition.sampling;
            sampling.trace = true;
            TokenStreamMonitor monitor(thresholds);
            session->clear();
            auto stats =
                session->generate(*prompt, sampling, {.max_tokens = kTokens, .stop_strings = {}},
                                  [&](const TokenEvent& event) {
                                      monitor.observe(event.token, event.trace);
                                      return true;
                                  });
            if (!stats) {
                return report_error(stats.error().message.c_str());
            }
            // A reply shorter than the window has no window mean: its running mean stands in.
            const Measured m{std::max(monitor.max_mean_entropy(), monitor.mean_entropy()),
                             monitor.worst_loop().repeats};
            (condition.healthy ? healthy
                               : (condition.sampling.temperature > 1 ? broken_hot : broken_loop))
                .push_back(m);
            std::printf("%-34s %-48s %9.3f %8zu\n", condition.name, question, m.entropy, m.repeats);
        }
    }
    auto max_of = [](const std::vector<Measured>& v, auto field) {
        double best = 0;
        for (const Measured& m : v) {
            best = std::max(best, double(m.*field));
        }
        return best;
    };
    auto min_of = [](const std::vector<Measured>& v, auto field) {
        double best = 1e300;
        for (const Measured& m : v) {
            best = std::min(best, double(m.*field));
        }
        return best;
    };
    std::printf("\nhealthy replies: peak window entropy at most %.3f nats, an n-gram repeated at "
                "most %.0f times\n",
                max_of(healthy, &Measured::entropy), max_of(healthy, &Measured::repeats));
    std::printf("hot replies: peak window entropy at least %.3f nats\n",
                min_of(broken_hot, &Measured::entropy));
    std::printf("loop-prone replies: an n-gram repeated %.0f to %.0f times\n",
                min_of(broken_loop, &Measured::repeats), max_of(broken_loop, &Measured::repeats));
    std::printf("thresholds in use: entropy %.3f nats over %zu tokens; %zu repeats of a %zu-gram "
                "in the last %zu tokens\n",
                thresholds.high_entropy_nats, thresholds.window, thresholds.loop_repeats,
                thresholds.ngram, thresholds.loop_window);
    return 0;
}

} // namespace hearth::cli
