// hearth::run_together (hearth/scheduler_together.h) on the tiny random-weight llama of
// tests/data/arch: requests that start together on one scheduler copy the prompt prefix they
// share with the first instead of computing it, give the tokens they give alone, and add up
// to the figures Compare and `hearth-cli compare` print; and the scheduler's metrics, read as
// soon as a request's on_done has run, already count that request.
#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/scheduler_together.h"
#include "hearth/session.h"
#include "test_support.h"
#include "token_prompt.h"

#include <QtTest>
#include <algorithm>
#include <string>
#include <vector>

using namespace hearth;

namespace {

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

SamplingParams seeded(uint64_t seed) {
    SamplingParams p;
    p.temperature = 0.8f;
    p.top_k = 40;
    p.seed = seed;
    return p;
}

using test::prompt_of;

struct Run {
    std::vector<int32_t> tokens;
    std::string text;
};

SchedulerRequest recorded(const std::vector<int32_t>& prompt, SamplingParams sampling,
                          int32_t max_tokens, Run& out) {
    return SchedulerRequest{.prompt = prompt,
                            .sampling = sampling,
                            .options = {.max_tokens = max_tokens, .stop_strings = {}},
                            .on_token =
                                [&out](const TokenEvent& e) {
                                    if (e.token >= 0) {
                                        out.tokens.push_back(e.token);
                                    }
                                    out.text += e.text;
                                    return true;
                                },
                            .on_done = {}};
}

Run alone(const std::shared_ptr<const Model>& model, const std::vector<int32_t>& prompt,
          SamplingParams sampling, int32_t max_tokens) {
    Run out;
    auto session = Session::create(model, {.n_ctx = 128});
    if (!session) {
        return out;
    }
    auto request = recorded(prompt, sampling, max_tokens, out);
    (void)session->generate(prompt, sampling, request.options, request.on_token);
    return out;
}

} // namespace

class TestSchedulerTogether : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> llama() {
        auto model = Model::load(test::data_dir() / "arch" / "llama.gguf",
                                 {.n_threads = 2, .on_progress = {}});
        if (!model) {
            qWarning("%s", model.error().message.c_str());
            return nullptr;
        }
        return *model;
    }

private slots:
    // Three prompts after one 40-token system prefix, and a fourth identical to the first:
    // the others copy the first's prefix (the identical one all but its last token), each
    // gives its tokens alone, and the figures add up.
    void the_others_copy_the_first_prefix() {
        auto m = llama();
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        const std::vector<int32_t> system = prompt_of(40, 7, n_vocab);
        auto with = [&](uint32_t seed, size_t n) {
            std::vector<int32_t> p = system;
            const auto user = prompt_of(n, seed, n_vocab);
            p.insert(p.end(), user.begin(), user.end());
            return p;
        };
        const std::vector<std::vector<int32_t>> prompts = {with(31, 6), with(32, 9), with(33, 5),
                                                           with(31, 6)};
        const std::vector<SamplingParams> sampling = {greedy(), seeded(5), greedy(), greedy()};
        const std::vector<int32_t> max_tokens = {6, 9, 4, 6};
        SchedulerOptions options;
        options.n_slots = 4;
        options.session.n_ctx = 128;
        auto scheduler = Scheduler::create(m, options);
        QVERIFY(scheduler);
        std::vector<Run> runs(prompts.size());
        std::vector<SchedulerRequest> requests;
        for (size_t i = 0; i < prompts.size(); ++i) {
            requests.push_back(recorded(prompts[i], sampling[i], max_tokens[i], runs[i]));
        }
        const TogetherOutcome outcome = run_together(**scheduler, std::move(requests));
        QCOMPARE(outcome.sequences.size(), prompts.size());
        int32_t generated = 0;
        uint64_t computed = 0;
        for (size_t i = 0; i < prompts.size(); ++i) {
            QVERIFY2(outcome.sequences[i], qPrintable(QString("request %1").arg(i)));
            const GenerationStats& stats = *outcome.sequences[i];
            const Run want = alone(m, prompts[i], sampling[i], max_tokens[i]);
            QCOMPARE(runs[i].tokens, want.tokens);
            QCOMPARE(runs[i].text, want.text);
            generated += stats.n_generated;
            computed += uint64_t(stats.n_prefilled) + uint64_t(std::max(stats.n_generated - 1, 0));
        }
        // The others take the prefix they share with the first from its slot: copied while it
        // runs, or found in place when the first has finished before they are admitted and one
        // of them gets its slot (a timing the test does not control). Either way none of them
        // computes it again.
        const auto taken = [&](size_t i) {
            return outcome.sequences[i]->n_shared + outcome.sequences[i]->n_reused;
        };
        QCOMPARE(outcome.sequences[0]->n_shared, 0);
        QCOMPARE(taken(1), int32_t(system.size()));
        QCOMPARE(taken(2), int32_t(system.size()));
        // The fourth repeats the first's prompt: all of it but the last token when the first's
        // slot still holds it, else (the second was admitted into that slot first) the shared
        // system prompt.
        QVERIFY(taken(3) == int32_t(prompts[3].size() - 1) || taken(3) == int32_t(system.size()));
        QCOMPARE(outcome.sequences[3]->n_prefilled, int32_t(prompts[3].size()) - taken(3));
        int32_t most_shared = 0;
        for (const auto& s : outcome.sequences) {
            most_shared = std::max(most_shared, s->n_shared);
        }
        QCOMPARE(outcome.n_shared_prefix, most_shared);
        QCOMPARE(outcome.n_generated, generated);
        QCOMPARE(outcome.n_computed, computed);
        QVERIFY(outcome.n_steps > 0);
        QCOMPARE(outcome.n_steps, (*scheduler)->metrics().steps);
    }

    // A refused request gets its error in its place; the others still run.
    void a_refused_request_keeps_its_place() {
        auto m = llama();
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        SchedulerOptions options;
        options.n_slots = 2;
        options.session.n_ctx = 64;
        auto scheduler = Scheduler::create(m, options);
        QVERIFY(scheduler);
        std::vector<Run> runs(3);
        std::vector<SchedulerRequest> requests;
        requests.push_back(recorded(prompt_of(8, 3, n_vocab), greedy(), 3, runs[0]));
        requests.push_back(recorded(prompt_of(100, 4, n_vocab), greedy(), 3, runs[1]));
        requests.push_back(recorded({}, greedy(), 3, runs[2]));
        const TogetherOutcome outcome = run_together(**scheduler, std::move(requests));
        QVERIFY(outcome.sequences[0]);
        QVERIFY(!outcome.sequences[1]); // longer than the context
        QVERIFY(!outcome.sequences[2]); // empty
        QVERIFY(!outcome.sequences[1].error().message.empty());
        QVERIFY(!outcome.sequences[2].error().message.empty());
        QCOMPARE(outcome.n_generated, outcome.sequences[0]->n_generated);
    }

    // The chat reads the cache's size from the metrics right after its request ends: they
    // count the step that ended it.
    void metrics_count_a_request_once_it_has_ended() {
        auto m = llama();
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        SchedulerOptions options;
        options.n_slots = 1;
        options.session.n_ctx = 128;
        auto scheduler = Scheduler::create(m, options);
        QVERIFY(scheduler);
        uint64_t generated = 0;
        for (uint64_t k = 1; k <= 20; ++k) { // the old order lost this race often, not always
            const std::vector<int32_t> prompt = prompt_of(10 + 5 * k, uint32_t(k), n_vocab);
            Run run;
            auto stats = (*scheduler)->generate(recorded(prompt, greedy(), 7, run));
            QVERIFY(stats);
            generated += uint64_t(stats->n_generated);
            const SchedulerMetrics metrics = (*scheduler)->metrics();
            QCOMPARE(metrics.requests_done, k);
            QCOMPARE(metrics.slots_busy, size_t(0));
            QCOMPARE(metrics.tokens_generated, generated);
            // The prompt and every token but the last sampled one.
            QCOMPARE(metrics.kv_cells.at(0),
                     uint32_t(prompt.size()) + uint32_t(stats->n_generated) - 1);
        }
    }
};

QTEST_GUILESS_MAIN(TestSchedulerTogether)
#include "tst_scheduler_together.moc"
