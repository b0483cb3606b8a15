// The continuous-batching Scheduler (hearth/scheduler.h) on the tiny random-weight models of
// tests/data/arch (llama, qwen3, the hybrid qwen35) and the default model: requests
// submitted at staggered steps produce exactly what they produce alone (greedy and seeded),
// cancel frees a slot, a full queue refuses at once, prefixes are reused and copied, a long
// prompt is prefilled in chunks while the others get a token every step (in steps, never in
// time), hostile requests get clear errors, and destruction with requests in flight ends.
#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"
#include "test_support.h"
#include "token_prompt.h"

#include <QtTest>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

using namespace hearth;

namespace {

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

SamplingParams seeded(uint64_t seed, float temperature) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.repeat_penalty = 1.1f;
    p.seed = seed;
    return p;
}

GenerateOptions limit(int32_t max_tokens) {
    return GenerateOptions{.max_tokens = max_tokens, .stop_strings = {}};
}

SchedulerOptions sched_options(size_t n_slots, uint32_t n_ctx, size_t queue = 64,
                               uint32_t budget = 512) {
    SchedulerOptions o;
    o.n_slots = n_slots;
    o.session.n_ctx = n_ctx;
    o.queue_capacity = queue;
    o.step_prompt_budget = budget;
    return o;
}

SchedulerRequest plain(std::vector<int32_t> prompt, SamplingParams sampling = greedy(),
                       GenerateOptions options = limit(4)) {
    SchedulerRequest r;
    r.prompt = std::move(prompt);
    r.sampling = sampling;
    r.options = std::move(options);
    return r;
}

struct Case {
    std::vector<int32_t> prompt;
    SamplingParams sampling;
    GenerateOptions options;
};

// The raw logits of the trace's top candidates: bit-exact evidence of a token's pass.
void record_trace(const TokenEvent& e, std::vector<float>& out) {
    if (e.trace && !e.trace->stages.empty()) {
        for (const auto& c : e.trace->stages.front().top) {
            out.push_back(c.logit);
        }
    }
}

// What one request produced, and the scheduler step of each of its tokens.
struct Output {
    std::vector<int32_t> tokens;
    std::vector<uint64_t> steps;
    std::vector<float> logits; // the trace's top logits of every token, when traced
    std::string text;
    std::optional<Result<GenerationStats>> result;
};

// The requests of one test: callbacks record into it (on the scheduler's thread), the test
// thread waits for all of them to end.
class Recorder {
public:
    explicit Recorder(size_t n) : outputs_(n) {}

    SchedulerRequest request(size_t i, const Case& c, Scheduler* scheduler,
                             std::function<void(size_t token_index)> on_each = {}) {
        SchedulerRequest r{.prompt = c.prompt,
                           .sampling = c.sampling,
                           .options = c.options,
                           .on_token = {},
                           .on_done = {}};
        r.on_token = [this, i, scheduler, on_each](const TokenEvent& e) {
            const uint64_t step = scheduler->metrics().steps;
            size_t index = 0;
            {
                std::lock_guard lock(mu_);
                if (e.token >= 0) {
                    outputs_[i].tokens.push_back(e.token);
                    outputs_[i].steps.push_back(step);
                    record_trace(e, outputs_[i].logits);
                }
                outputs_[i].text += e.text;
                index = outputs_[i].tokens.size();
            }
            if (on_each && e.token >= 0) {
                on_each(index);
            }
            return true;
        };
        r.on_done = [this, i](RequestId, const Result<GenerationStats>& result) {
            std::lock_guard lock(mu_);
            outputs_[i].result = result;
            done_.notify_all();
        };
        return r;
    }

    // Waits until `n` requests have ended (no time bound: the test's progress is the bound).
    void wait_done(size_t n) {
        std::unique_lock lock(mu_);
        done_.wait(lock, [&] {
            return static_cast<size_t>(std::ranges::count_if(
                       outputs_, [](const Output& o) { return o.result.has_value(); })) >= n;
        });
    }
    Output get(size_t i) {
        std::lock_guard lock(mu_);
        return outputs_[i];
    }

private:
    std::mutex mu_;
    std::condition_variable done_;
    std::vector<Output> outputs_;
};

Output alone(const std::shared_ptr<const Model>& model, const Case& c, uint32_t n_ctx) {
    Output out;
    auto session = Session::create(model, {.n_ctx = n_ctx});
    if (!session) {
        return out;
    }
    out.result = session->generate(c.prompt, c.sampling, c.options, [&](const TokenEvent& e) {
        if (e.token >= 0) {
            out.tokens.push_back(e.token);
            record_trace(e, out.logits);
        }
        out.text += e.text;
        return true;
    });
    return out;
}

using test::prompt_of;

void compare(const Output& got, const Output& want, size_t i) {
    const QString who = QString("request %1").arg(i);
    QVERIFY2(got.result && *got.result, qPrintable(who + " failed"));
    QVERIFY2(want.result && *want.result, qPrintable(who + " failed alone"));
    QVERIFY2(got.tokens == want.tokens,
             qPrintable(who + QString(": %1 tokens in the scheduler, %2 alone, or different ones")
                                  .arg(got.tokens.size())
                                  .arg(want.tokens.size())));
    QCOMPARE(got.text, want.text);
    QVERIFY2(got.logits.size() == want.logits.size() &&
                 std::memcmp(got.logits.data(), want.logits.data(),
                             got.logits.size() * sizeof(float)) == 0,
             qPrintable(who + ": the traced logits differ from its run alone"));
    QCOMPARE((*got.result)->stop, (*want.result)->stop);
    QCOMPARE((*got.result)->n_generated, (*want.result)->n_generated);
}

} // namespace

class TestScheduler : public QObject {
    Q_OBJECT

    std::map<std::string, std::shared_ptr<const Model>> tiny_;

    std::shared_ptr<const Model> tiny(const std::string& name) {
        if (!tiny_.contains(name)) {
            auto model = Model::load(test::data_dir() / "arch" / (name + ".gguf"),
                                     {.n_threads = 2, .on_progress = {}});
            if (!model) {
                qWarning("%s", model.error().message.c_str());
                return nullptr;
            }
            tiny_[name] = *model;
        }
        return tiny_[name];
    }

private slots:
    void staggered_requests_equal_alone_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("llama") << "llama";
        QTest::newRow("qwen3") << "qwen3";
        QTest::newRow("qwen35 (hybrid)") << "qwen35";
    }

    // 8 requests of different prompt lengths, sampling and limits on 4 slots with a small
    // prompt budget: the later ones are submitted from the earlier ones' callbacks (every
    // third token anywhere, and whenever one ends), so they join at varying step alignments
    // and chunk their prompts between the others' tokens. Each equals its run alone.
    void staggered_requests_equal_alone() {
        QFETCH(QString, model);
        auto m = tiny(model.toStdString());
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        std::vector<Case> cases;
        const size_t lengths[] = {5, 37, 12, 60, 3, 25, 44, 9};
        for (size_t i = 0; i < 8; ++i) {
            const SamplingParams sampling =
                i % 2 == 0 ? greedy() : seeded(100 + i, 0.6f + 0.1f * float(i % 4));
            cases.push_back({prompt_of(lengths[i], uint32_t(i + 1), n_vocab), sampling,
                             limit(int32_t(6 + 3 * i))});
        }
        for (Case& c : cases) {
            c.sampling.trace = true; // the token inspector's logits: compared bit for bit
        }

        auto scheduler = Scheduler::create(m, sched_options(4, 128, 8, 16));
        QVERIFY2(scheduler, scheduler ? "" : scheduler.error().message.c_str());
        Scheduler* s = scheduler->get();
        Recorder recorder(cases.size());
        std::mutex submit_mu;
        size_t submitted = 0;
        size_t events = 0;
        std::function<void()> submit_next;
        std::function<void(size_t)> on_each = [&](size_t) {
            std::lock_guard lock(submit_mu);
            if (++events % 3 == 0) {
                submit_next();
            }
        };
        submit_next = [&] { // under submit_mu
            if (submitted < cases.size()) {
                const size_t i = submitted++;
                SchedulerRequest r = recorder.request(i, cases[i], s, on_each);
                auto inner_done = r.on_done;
                r.on_done = [&, inner_done](RequestId id, const Result<GenerationStats>& res) {
                    {
                        std::lock_guard lock(submit_mu);
                        submit_next();
                    }
                    inner_done(id, res);
                };
                QVERIFY(s->submit(std::move(r)));
            }
        };
        {
            std::lock_guard lock(submit_mu);
            submit_next();
        }
        recorder.wait_done(cases.size());
        for (size_t i = 0; i < cases.size(); ++i) {
            compare(recorder.get(i), alone(m, cases[i], 128), i);
        }
        const SchedulerMetrics metrics = s->metrics();
        QCOMPARE(metrics.requests_done, uint64_t(cases.size()));
        QCOMPARE(metrics.slots_busy, size_t(0));
        QVERIFY(metrics.steps > 0);
        QVERIFY(std::ranges::max(metrics.recent_prompt_tokens) <= 16);
    }

    // Three requests decode together; the middle one is cancelled from its own callback after
    // three tokens: it ends `cancelled`, its slot takes a waiting request at once, and the
    // others still equal their runs alone.
    void cancel_frees_the_slot() {
        auto m = tiny("llama");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        std::vector<Case> cases;
        for (size_t i = 0; i < 4; ++i) {
            cases.push_back({prompt_of(10 + i, uint32_t(20 + i), n_vocab), greedy(), limit(40)});
        }
        auto scheduler = Scheduler::create(m, sched_options(3, 128));
        QVERIFY(scheduler);
        Scheduler* s = scheduler->get();
        Recorder recorder(cases.size());
        std::atomic<RequestId> victim{0};
        for (size_t i = 0; i < 4; ++i) {
            auto on_each = [&, i](size_t n) {
                if (i == 1 && n == 3) {
                    QVERIFY(s->cancel(victim.load()));
                }
            };
            auto id = s->submit(recorder.request(i, cases[i], s, on_each));
            QVERIFY(id);
            if (i == 1) {
                victim = *id;
            }
        }
        recorder.wait_done(4);
        const Output cancelled = recorder.get(1);
        QVERIFY(cancelled.result && *cancelled.result);
        QCOMPARE((*cancelled.result)->stop, StopReason::cancelled);
        QCOMPARE((*cancelled.result)->n_generated, 3);
        // The fourth started in the freed slot while the others were still decoding.
        const Output fourth = recorder.get(3);
        QVERIFY(!fourth.steps.empty());
        QVERIFY(fourth.steps.front() < recorder.get(0).steps.back());
        for (size_t i : {size_t(0), size_t(2), size_t(3)}) {
            compare(recorder.get(i), alone(m, cases[i], 128), i);
        }
        QVERIFY(!s->cancel(victim.load())); // it has ended
    }

    // One slot, a queue of two: while the worker is held inside the running request's
    // callback, two requests wait and a third is refused at once with `busy`; a queued one
    // cancelled ends with the error `cancelled`.
    void full_queue_refuses_at_once() {
        auto m = tiny("llama");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        auto scheduler = Scheduler::create(m, sched_options(1, 128, 2));
        QVERIFY(scheduler);
        Scheduler* s = scheduler->get();
        Recorder recorder(3);
        std::mutex gate_mu;
        std::condition_variable gate_cv;
        bool holding = false;
        bool release = false;
        const Case long_one{prompt_of(8, 1, n_vocab), greedy(), limit(50)};
        auto hold = [&](size_t n) {
            if (n == 1) {
                std::unique_lock lock(gate_mu);
                holding = true;
                gate_cv.notify_all();
                gate_cv.wait(lock, [&] { return release; });
            }
        };
        auto first = s->submit(recorder.request(0, long_one, s, hold));
        QVERIFY(first);
        {
            std::unique_lock lock(gate_mu);
            gate_cv.wait(lock, [&] { return holding; });
        }
        auto second = s->submit(recorder.request(1, long_one, s));
        auto third = s->submit(recorder.request(2, long_one, s));
        QVERIFY(second && third);
        QCOMPARE(s->metrics().queue_length, size_t(2));
        auto refused = s->submit(recorder.request(2, long_one, s));
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::busy);
        QVERIFY(refused.error().message.find("queue is full") != std::string::npos);
        QVERIFY(s->cancel(*second));
        {
            std::lock_guard lock(gate_mu);
            release = true;
        }
        gate_cv.notify_all();
        recorder.wait_done(3);
        const Output dropped = recorder.get(1);
        QVERIFY(dropped.result && !*dropped.result);
        QCOMPARE(dropped.result->error().code, ErrorCode::cancelled);
        QVERIFY(dropped.tokens.empty());
        compare(recorder.get(0), alone(m, long_one, 128), 0);
        compare(recorder.get(2), alone(m, long_one, 128), 2);
    }

    // A system prompt shared by requests: the second, after the first ended, reuses it from
    // the same slot's cache (n_reused); a third, submitted while the second runs, starts in the
    // other slot and copies it from the busy one (n_shared). Each equals its run alone.
    void prefix_reused_and_copied() {
        auto m = tiny("llama");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        const std::vector<int32_t> system = prompt_of(40, 7, n_vocab);
        auto with = [&](uint32_t seed, size_t n) {
            std::vector<int32_t> p = system;
            const auto user = prompt_of(n, seed, n_vocab);
            p.insert(p.end(), user.begin(), user.end());
            return p;
        };
        std::vector<Case> cases = {{with(31, 6), greedy(), limit(4)},
                                   {with(32, 9), greedy(), limit(30)},
                                   {with(33, 5), seeded(5, 0.8f), limit(8)}};
        for (Case& c : cases) {
            c.sampling.trace = true; // copied cells must give the logits computed ones give
        }
        auto scheduler = Scheduler::create(m, sched_options(2, 128));
        QVERIFY(scheduler);
        Scheduler* s = scheduler->get();
        Recorder recorder(3);
        QVERIFY(s->submit(recorder.request(0, cases[0], s)));
        recorder.wait_done(1);
        std::atomic<bool> third_sent{false};
        auto send_third = [&](size_t n) {
            if (n == 2 && !third_sent.exchange(true)) {
                QVERIFY(s->submit(recorder.request(2, cases[2], s)));
            }
        };
        QVERIFY(s->submit(recorder.request(1, cases[1], s, send_third)));
        recorder.wait_done(3);
        const Output second_out = recorder.get(1);
        const Output third_out = recorder.get(2);
        QVERIFY(second_out.result && third_out.result);
        const auto& second = *second_out.result;
        QVERIFY(second);
        QCOMPARE(second->n_reused, int32_t(system.size()));
        QCOMPARE(second->n_shared, 0);
        const auto& third = *third_out.result;
        QVERIFY(third);
        QCOMPARE(third->n_reused, 0);
        QCOMPARE(third->n_shared, int32_t(system.size()));
        QCOMPARE(third->n_prefilled, int32_t(cases[2].prompt.size() - system.size()));
        for (size_t i = 0; i < 3; ++i) {
            compare(recorder.get(i), alone(m, cases[i], 128), i);
        }
    }

    // The default model: a 2,000-token prompt submitted while 3 others decode is prefilled in
    // chunks of the step budget (512), and each of the 3 gets one token in every step of it.
    void long_prompt_does_not_stall_the_others() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path, {.n_threads = 2, .on_progress = {}});
        QVERIFY(model);
        std::shared_ptr<const Model> m = *model;
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        std::vector<Case> cases;
        for (size_t i = 0; i < 3; ++i) {
            cases.push_back({prompt_of(8 + i, uint32_t(50 + i), n_vocab), greedy(), limit(24)});
        }
        cases.push_back({prompt_of(2000, 99, n_vocab), greedy(), limit(2)});
        auto scheduler = Scheduler::create(m, sched_options(4, 2048 + 64, 64, 512));
        QVERIFY2(scheduler, scheduler ? "" : scheduler.error().message.c_str());
        Scheduler* s = scheduler->get();
        Recorder recorder(4);
        std::atomic<uint64_t> big_submitted_at{0};
        std::atomic<bool> big_sent{false};
        auto send_big = [&](size_t n) {
            if (n == 3 && !big_sent.exchange(true)) {
                big_submitted_at = s->metrics().steps;
                QVERIFY(s->submit(recorder.request(3, cases[3], s)));
            }
        };
        for (size_t i = 0; i < 3; ++i) {
            std::function<void(size_t)> each;
            if (i == 0) {
                each = send_big;
            }
            QVERIFY(s->submit(recorder.request(i, cases[i], s, each)));
        }
        recorder.wait_done(4);
        const Output big = recorder.get(3);
        QVERIFY(big.result && *big.result);
        QVERIFY(!big.steps.empty());
        // Its prompt took ceil(2000 / 512) = 4 steps (its first token is sampled at the start
        // of the step after the last chunk), beginning at most one step after submission.
        const uint64_t first_token_step = big.steps.front();
        QVERIFY(first_token_step >= big_submitted_at.load() + 4);
        QVERIFY(first_token_step <= big_submitted_at.load() + 5);
        for (size_t i = 0; i < 3; ++i) {
            const Output o = recorder.get(i);
            QVERIFY(o.result && *o.result);
            int during = 0;
            for (size_t k = 1; k < o.steps.size(); ++k) {
                if (o.steps[k] > big_submitted_at.load() && o.steps[k] <= first_token_step) {
                    QCOMPARE(o.steps[k], o.steps[k - 1] + 1); // a token every step
                    ++during;
                }
            }
            // Unless it reached its end, it took a token in each of the prefill's steps.
            if ((*o.result)->n_generated == 24) {
                QVERIFY2(during >= 4, qPrintable(QString("request %1: %2").arg(i).arg(during)));
            }
        }
        const SchedulerMetrics metrics = s->metrics();
        QVERIFY(std::ranges::max(metrics.recent_prompt_tokens) <= 512);
        QVERIFY(std::ranges::max(metrics.recent_batch_sizes) <= 512 + 3);
        QCOMPARE(metrics.kv_cells.size(), size_t(4));
        QVERIFY(std::ranges::max(metrics.kv_cells) >= 2000);
        compare(recorder.get(0), alone(m, cases[0], 2048 + 64), 0);
    }

    void hostile_requests() {
        auto m = tiny("llama");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        for (const SchedulerOptions& bad :
             {sched_options(0, 64), sched_options(kMaxSchedulerSlots + 1, 64),
              sched_options(1, 64, 0), sched_options(1, 64, kMaxSchedulerQueue + 1),
              sched_options(1, 64, 8, 0), sched_options(1, 64, 8, kMaxStepPromptBudget + 1)}) {
            auto refused = Scheduler::create(m, bad);
            QVERIFY(!refused);
            QCOMPARE(refused.error().code, ErrorCode::invalid_argument);
        }
        QVERIFY(!Scheduler::create(nullptr, sched_options(1, 64)));
        // Slots made elsewhere: none, or sessions of two models, are refused.
        auto none = Scheduler::create(std::vector<Session>{}, sched_options(1, 64));
        QVERIFY(!none);
        QCOMPARE(none.error().code, ErrorCode::invalid_argument);
        std::vector<Session> mixed;
        for (const char* name : {"llama", "qwen3"}) {
            auto session = Session::create(tiny(name), {.n_ctx = 64});
            QVERIFY(session);
            mixed.push_back(std::move(*session));
        }
        auto two_models = Scheduler::create(std::move(mixed), sched_options(1, 64));
        QVERIFY(!two_models);
        QVERIFY(two_models.error().message.find("one model") != std::string::npos);
        auto scheduler = Scheduler::create(m, sched_options(2, 64));
        QVERIFY(scheduler);
        Scheduler* s = scheduler->get();
        auto expect = [&](SchedulerRequest r, ErrorCode code, const char* words) {
            auto id = s->submit(std::move(r));
            QVERIFY(!id);
            QCOMPARE(id.error().code, code);
            QVERIFY2(id.error().message.find(words) != std::string::npos,
                     id.error().message.c_str());
        };
        expect(plain({}), ErrorCode::invalid_argument, "prompt is empty");
        expect(plain(prompt_of(64, 1, n_vocab)), ErrorCode::context_full, "context holds 64");
        SamplingParams bad = greedy();
        bad.top_p = 1.5f;
        expect(plain(prompt_of(4, 1, n_vocab), bad), ErrorCode::invalid_argument, "top");
        expect(plain(prompt_of(4, 1, n_vocab), greedy(), limit(-1)), ErrorCode::invalid_argument,
               "max tokens");
        auto unknown = s->cancel(12345);
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().code, ErrorCode::invalid_argument);
        QVERIFY(unknown.error().message.find("12345") != std::string::npos);
        s->shutdown();
        s->shutdown();
        expect(plain(prompt_of(4, 1, n_vocab)), ErrorCode::cancelled, "shut down");
    }

    // Two slots, the first reserved (the app's chat beside its server): while the worker is
    // held in the first request's callback, a second plain request queues, a third is refused
    // (a queue of one), and a reserved one is still taken and goes ahead. Released, the reserved
    // one runs in its slot beside the first, and the queued plain one waits for the first to
    // end although the reserved slot is free again by then. Each equals its run alone.
    void reserved_slot_for_its_owner() {
        auto m = tiny("llama");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        SchedulerOptions options = sched_options(2, 128, 1);
        options.reserved_slots = 1;
        auto scheduler = Scheduler::create(m, options);
        QVERIFY2(scheduler, scheduler ? "" : scheduler.error().message.c_str());
        Scheduler* s = scheduler->get();
        QCOMPARE(s->metrics().reserved_slots, size_t(1));
        Recorder recorder(3);
        std::mutex gate_mu;
        std::condition_variable gate_cv;
        bool holding = false;
        bool release = false;
        auto hold = [&](size_t n) {
            if (n == 1) {
                std::unique_lock lock(gate_mu);
                holding = true;
                gate_cv.notify_all();
                gate_cv.wait(lock, [&] { return release; });
            }
        };
        const Case first{prompt_of(8, 1, n_vocab), greedy(), limit(40)};
        const Case waiting{prompt_of(9, 2, n_vocab), greedy(), limit(4)};
        const Case owner{prompt_of(10, 3, n_vocab), greedy(), limit(3)};
        QVERIFY(s->submit(recorder.request(0, first, s, hold)));
        {
            std::unique_lock lock(gate_mu);
            gate_cv.wait(lock, [&] { return holding; });
        }
        QVERIFY(s->submit(recorder.request(1, waiting, s)));
        auto refused = s->submit(plain(prompt_of(5, 4, n_vocab)));
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::busy);
        SchedulerRequest mine = recorder.request(2, owner, s);
        mine.reserved = true;
        QVERIFY(s->submit(std::move(mine)));
        QCOMPARE(s->metrics().queue_length, size_t(2));
        {
            std::lock_guard lock(gate_mu);
            release = true;
        }
        gate_cv.notify_all();
        recorder.wait_done(3);
        const Output a = recorder.get(0);
        const Output b = recorder.get(1);
        const Output c = recorder.get(2);
        QVERIFY(!a.steps.empty() && !b.steps.empty() && !c.steps.empty());
        QVERIFY2(c.steps.back() < a.steps.back(), "the reserved request did not run beside");
        QVERIFY2(b.steps.front() > a.steps.back(), "a plain request took the reserved slot");
        compare(a, alone(m, first, 128), 0);
        compare(b, alone(m, waiting, 128), 1);
        compare(c, alone(m, owner, 128), 2);

        // Every slot reserved would leave the others none.
        options.reserved_slots = 2;
        auto all_reserved = Scheduler::create(m, options);
        QVERIFY(!all_reserved);
        QCOMPARE(all_reserved.error().code, ErrorCode::invalid_argument);
    }

    // Destroying the scheduler with requests running and queued: every request gets its
    // final callback (running: stop `cancelled`; queued: the error `cancelled`), no hang.
    void destroy_with_requests_in_flight() {
        auto m = tiny("qwen35");
        QVERIFY(m);
        const auto n_vocab = static_cast<int32_t>(m->info().n_vocab);
        auto scheduler = Scheduler::create(m, sched_options(2, 256));
        QVERIFY(scheduler);
        Scheduler* s = scheduler->get();
        Recorder recorder(5);
        std::mutex mu;
        std::condition_variable cv;
        bool started = false;
        auto note = [&](size_t) {
            std::lock_guard lock(mu);
            started = true;
            cv.notify_all();
        };
        for (size_t i = 0; i < 5; ++i) {
            const Case c{prompt_of(20, uint32_t(i + 3), n_vocab), greedy(), limit(200)};
            std::function<void(size_t)> each;
            if (i == 0) {
                each = note;
            }
            QVERIFY(s->submit(recorder.request(i, c, s, each)));
        }
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return started; });
        }
        scheduler->reset();
        int stopped = 0;
        int dropped = 0;
        for (size_t i = 0; i < 5; ++i) {
            const Output o = recorder.get(i);
            QVERIFY(o.result);
            if (*o.result) {
                // Cancelled, unless the random model happened to end it first.
                QVERIFY((*o.result)->stop == StopReason::cancelled ||
                        (*o.result)->stop == StopReason::end_of_generation);
                ++stopped;
            } else {
                QCOMPARE(o.result->error().code, ErrorCode::cancelled);
                ++dropped;
            }
        }
        QVERIFY(stopped >= 2);
        QVERIFY(dropped >= 1);
        QCOMPARE(stopped + dropped, 5);
    }
};

QTEST_GUILESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
