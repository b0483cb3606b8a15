// Several sequences generated together (compare mode): the result equals generating each
// sequence alone, token for token, with greedy and seeded sampling; the shared prompt prefix
// is computed once; sequences of different lengths, one stopping early, one running out of
// context, cancel, and bad requests. Runs the default model with short prompts.
#include "cpu/forward.h"
#include "hearth/batch_generation.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/session.h"
#include "model/model_impl.h"
#include "test_support.h"

#include <QtTest>
#include <algorithm>
#include <cstring>
#include <memory>

using namespace hearth;

namespace {

struct Output {
    std::vector<int32_t> tokens;
    std::string text;
    GenerationStats stats;
};

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

SamplingParams seeded(uint64_t seed, float temperature = 0.9f) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.seed = seed;
    return p;
}

// The case of one sequence: its prompt, sampling and options.
struct Case {
    std::vector<int32_t> prompt;
    SamplingParams sampling;
    GenerateOptions options;
    uint32_t n_ctx = 256;
};

} // namespace

class TestBatch : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;

    std::vector<int32_t> chat_prompt(const char* template_name, const char* user) {
        auto format = resolve_prompt_format(*model_, template_name);
        if (!format) {
            qWarning("%s", format.error().message.c_str());
            return {};
        }
        const std::vector<ChatMessage> messages = {{"user", user}};
        auto text = render_prompt(*format, messages, true);
        auto tokens = text ? tokenize_prompt(model_->tokenizer(), *text)
                           : Result<std::vector<int32_t>>(std::unexpected(text.error()));
        return tokens ? *tokens : std::vector<int32_t>{};
    }

    std::vector<int32_t> raw_prompt(const char* text) {
        auto tokens = tokenize_prompt(model_->tokenizer(), text);
        return tokens ? *tokens : std::vector<int32_t>{};
    }

    // Each case alone, on a fresh session.
    std::vector<Output> separately(const std::vector<Case>& cases) {
        std::vector<Output> outputs;
        for (const Case& c : cases) {
            Output out;
            auto session = Session::create(model_, {.n_ctx = c.n_ctx});
            if (!session) {
                return {};
            }
            auto stats =
                session->generate(c.prompt, c.sampling, c.options, [&](const TokenEvent& e) {
                    if (e.token >= 0)
                        out.tokens.push_back(e.token);
                    out.text += e.text;
                    return true;
                });
            if (!stats) {
                qWarning("%s", stats.error().message.c_str());
                return {};
            }
            out.stats = *stats;
            outputs.push_back(std::move(out));
        }
        return outputs;
    }

    // All cases together, on fresh sessions (returned for inspection).
    std::vector<Output> together(const std::vector<Case>& cases, BatchGenerationStats* batch_stats,
                                 std::vector<Session>* sessions_out = nullptr) {
        std::vector<Session> sessions;
        for (const Case& c : cases) {
            auto session = Session::create(model_, {.n_ctx = c.n_ctx});
            if (!session) {
                return {};
            }
            sessions.push_back(std::move(*session));
        }
        std::vector<Output> outputs(cases.size());
        std::vector<SequenceRequest> requests;
        for (size_t i = 0; i < cases.size(); ++i) {
            requests.push_back({.session = &sessions[i],
                                .prompt = cases[i].prompt,
                                .sampling = cases[i].sampling,
                                .options = cases[i].options,
                                .on_token = [&outputs, i](const TokenEvent& e) {
                                    if (e.token >= 0)
                                        outputs[i].tokens.push_back(e.token);
                                    outputs[i].text += e.text;
                                    return true;
                                }});
        }
        auto stats = generate_together(requests);
        if (!stats) {
            qWarning("%s", stats.error().message.c_str());
            return {};
        }
        for (size_t i = 0; i < cases.size(); ++i) {
            outputs[i].stats = stats->sequences[i];
        }
        if (batch_stats) {
            *batch_stats = *stats;
        }
        if (sessions_out) {
            *sessions_out = std::move(sessions);
        }
        return outputs;
    }

    void compare(const std::vector<Output>& alone, const std::vector<Output>& batched) {
        QCOMPARE(batched.size(), alone.size());
        for (size_t i = 0; i < alone.size(); ++i) {
            QVERIFY2(!alone[i].tokens.empty(), "a sequence generated nothing");
            QCOMPARE(batched[i].tokens, alone[i].tokens);
            QCOMPARE(batched[i].text, alone[i].text);
            QCOMPARE(batched[i].stats.text, alone[i].stats.text);
            QCOMPARE(batched[i].stats.stop, alone[i].stats.stop);
            QCOMPARE(batched[i].stats.n_generated, alone[i].stats.n_generated);
        }
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        model_ = *model;
    }

    // The property everything rests on: a token's logits in a batch of several sequences
    // are bit for bit those it gets alone (matmul rows independent, attention per sequence).
    void forward_rows_are_independent() {
        const Model::Impl& m = model_->impl();
        const ModelInfo& info = m.info;
        const uint32_t k_width = info.n_head_kv * info.head_dim_k;
        const uint32_t v_width = info.n_head_kv * info.head_dim_v;
        const std::vector<std::vector<int32_t>> prompts = {
            raw_prompt("The capital of France is"), raw_prompt("1, 2, 3, 4,"),
            raw_prompt("Once upon a time there was a little"), raw_prompt("def main():")};
        cpu::Forward forward(m);
        std::vector<cpu::KvCache> caches;
        for (const auto& prompt : prompts) {
            QVERIFY(!prompt.empty());
            caches.emplace_back(info.n_layer, 64, k_width, v_width);
            std::vector<cpu::BatchToken> batch;
            for (size_t i = 0; i < prompt.size(); ++i) {
                batch.push_back({.token = prompt[i],
                                 .pos = uint32_t(i),
                                 .cache = &caches.back(),
                                 .want_logits = false});
            }
            QVERIFY(forward.run(batch, nullptr));
        }
        const size_t n_vocab = info.n_vocab;
        std::vector<cpu::KvCache> alone_caches = caches;
        std::vector<float> alone(prompts.size() * n_vocab);
        for (size_t s = 0; s < prompts.size(); ++s) {
            const cpu::BatchToken t{.token = 42,
                                    .pos = uint32_t(prompts[s].size()),
                                    .cache = &alone_caches[s],
                                    .want_logits = true};
            QVERIFY(forward.run({&t, 1}, alone.data() + s * n_vocab));
        }
        std::vector<cpu::BatchToken> batch;
        for (size_t s = 0; s < prompts.size(); ++s) {
            batch.push_back({.token = 42,
                             .pos = uint32_t(prompts[s].size()),
                             .cache = &caches[s],
                             .want_logits = true,
                             .kernels = cpu::AttentionKernels::single_token});
        }
        std::vector<float> together(prompts.size() * n_vocab);
        QVERIFY(forward.run(batch, together.data()));
        for (size_t s = 0; s < prompts.size(); ++s) {
            QVERIFY2(std::memcmp(alone.data() + s * n_vocab, together.data() + s * n_vocab,
                                 n_vocab * sizeof(float)) == 0,
                     qPrintable(QString("sequence %1's logits differ in the batch").arg(s)));
        }
    }

    void greedy_equals_separate() {
        std::vector<Case> cases = {
            {chat_prompt("model", "What is the capital of France?"), greedy(), {24, {}}},
            {chat_prompt("chatml", "Name three colours."), greedy(), {24, {}}},
            {raw_prompt("The quick brown fox"), greedy(), {24, {}}},
        };
        for (const auto& c : cases)
            QVERIFY(!c.prompt.empty());
        const auto alone = separately(cases);
        BatchGenerationStats stats;
        const auto batched = together(cases, &stats);
        compare(alone, batched);
        QVERIFY(stats.n_steps > 0);
    }

    // Same seed, same settings: identical columns; another seed: each still equals its
    // separate run. Sequences of different prompt lengths, one with a small token limit.
    void seeded_sampling_equals_separate() {
        const auto prompt = chat_prompt("model", "Write a short poem about the sea.");
        const auto longer = chat_prompt("model", "Write a short poem about the sea, in the "
                                                 "style of a sailor who misses home.");
        std::vector<Case> cases = {
            {prompt, seeded(1), {20, {}}},
            {prompt, seeded(1), {20, {}}},
            {prompt, seeded(7), {20, {}}},
            {longer, seeded(1, 0.5f), {5, {}}},
        };
        const auto alone = separately(cases);
        const auto batched = together(cases, nullptr);
        compare(alone, batched);
        QCOMPARE(batched[0].tokens, batched[1].tokens);
        QCOMPARE(batched[3].stats.n_generated, 5);
        QCOMPARE(batched[3].stats.stop, StopReason::max_tokens);
    }

    // Three fresh sessions whose prompts share a prefix: the prefix runs once, in one of
    // them, and is copied into the other two.
    void shared_prefix_computed_once() {
        const auto a = chat_prompt("model", "Tell me about cats.");
        const auto b = chat_prompt("model", "Tell me about dogs and their owners.");
        const auto c = chat_prompt("model", "Tell me about birds.");
        size_t prefix = 0;
        while (prefix < a.size() && prefix < b.size() && prefix < c.size() &&
               a[prefix] == b[prefix] && a[prefix] == c[prefix]) {
            ++prefix;
        }
        QVERIFY2(prefix > 10, "the prompts should share the template's system part");
        std::vector<Case> cases = {
            {a, greedy(), {4, {}}}, {b, greedy(), {4, {}}}, {c, greedy(), {4, {}}}};
        BatchGenerationStats stats;
        std::vector<Session> sessions;
        const auto batched = together(cases, &stats, &sessions);
        QCOMPARE(batched.size(), size_t(3));
        QCOMPARE(stats.n_shared_prefix, int32_t(prefix));
        const uint64_t prompt_work =
            prefix + (a.size() - prefix) + (b.size() - prefix) + (c.size() - prefix);
        uint64_t decode_work = 0;
        uint64_t per_session = 0;
        int sharers = 0;
        for (size_t i = 0; i < 3; ++i) {
            decode_work += uint64_t(batched[i].stats.n_generated - 1);
            per_session += sessions[i].n_tokens_computed();
            QCOMPARE(batched[i].stats.n_reused, 0);
            QCOMPARE(batched[i].stats.n_shared + batched[i].stats.n_prefilled,
                     batched[i].stats.n_prompt);
            sharers += batched[i].stats.n_shared == int32_t(prefix) ? 1 : 0;
        }
        QCOMPARE(sharers, 2);
        QCOMPARE(stats.n_computed, prompt_work + decode_work);
        QCOMPARE(per_session, stats.n_computed);
        // Still the same tokens as three separate generations.
        compare(separately(cases), batched);

        // A second turn reuses each session's own cache and shares nothing new.
        std::vector<int32_t> a2 = a;
        a2.insert(a2.end(), batched[0].tokens.begin(), batched[0].tokens.end() - 1);
        const std::vector<int32_t> more = raw_prompt(" More please.");
        a2.insert(a2.end(), more.begin(), more.end());
        const SequenceRequest again{.session = &sessions[0],
                                    .prompt = a2,
                                    .sampling = greedy(),
                                    .options = {2, {}},
                                    .on_token = {}};
        auto second = generate_together({&again, 1});
        QVERIFY(second);
        QCOMPARE(second->sequences[0].n_reused, int32_t(a.size() + batched[0].tokens.size() - 1));
        QCOMPARE(second->n_shared_prefix, 0);
    }

    // Prompts that differ only in their last token: that token is computed alone after the
    // shared prefix, yet must attend with the kernels of the whole-prompt batch it would
    // have been in on its own.
    void one_token_suffix_equals_separate() {
        const auto a = raw_prompt("My favourite animals are cats");
        const auto b = raw_prompt("My favourite animals are dogs");
        QCOMPARE(a.size(), b.size());
        QVERIFY(std::equal(a.begin(), a.end() - 1, b.begin()));
        std::vector<Case> cases = {{a, greedy(), {16, {}}}, {b, greedy(), {16, {}}}};
        BatchGenerationStats stats;
        const auto batched = together(cases, &stats);
        QCOMPARE(stats.n_shared_prefix, int32_t(a.size() - 1));
        compare(separately(cases), batched);
    }

    // One sequence with a context just larger than its prompt stops with `context_full`;
    // the others go on and still equal their separate runs.
    void context_full_for_one() {
        const auto prompt = chat_prompt("model", "Count from one to twenty.");
        std::vector<Case> cases = {
            {prompt, greedy(), {16, {}}, uint32_t(prompt.size() + 4)},
            {prompt, greedy(), {16, {}}},
        };
        const auto alone = separately(cases);
        const auto batched = together(cases, nullptr);
        compare(alone, batched);
        QCOMPARE(batched[0].stats.stop, StopReason::context_full);
        QVERIFY(batched[0].stats.n_generated < batched[1].stats.n_generated);
    }

    // A stop string ends one sequence; a callback returning false cancels another; a
    // Session::cancel() (as from another thread) stops a third; the fourth runs on.
    void stops_and_cancel() {
        const auto prompt = raw_prompt("1, 2, 3, 4, 5, 6,");
        std::vector<Session> sessions;
        for (int i = 0; i < 4; ++i) {
            auto s = Session::create(model_, {.n_ctx = 128});
            QVERIFY(s);
            sessions.push_back(std::move(*s));
        }
        int seen[4] = {};
        std::vector<SequenceRequest> requests;
        for (size_t i = 0; i < 4; ++i) {
            requests.push_back({.session = &sessions[i],
                                .prompt = prompt,
                                .sampling = greedy(),
                                .options = {12, {}},
                                .on_token = {}});
        }
        requests[0].options.stop_strings = {"9"};
        requests[1].on_token = [&](const TokenEvent&) { return ++seen[1] < 3; };
        requests[2].on_token = [&](const TokenEvent&) {
            if (++seen[2] == 2)
                sessions[2].cancel();
            return true;
        };
        auto stats = generate_together(requests);
        QVERIFY2(stats, stats ? "" : stats.error().message.c_str());
        QCOMPARE(stats->sequences[0].stop, StopReason::stop_string);
        QVERIFY(stats->sequences[0].text.find('9') == std::string::npos);
        QCOMPARE(stats->sequences[1].stop, StopReason::cancelled);
        QCOMPARE(stats->sequences[1].n_generated, 3);
        QCOMPARE(stats->sequences[2].stop, StopReason::cancelled);
        QCOMPARE(stats->sequences[2].n_generated, 2);
        QCOMPARE(stats->sequences[3].stop, StopReason::max_tokens);
        QCOMPARE(stats->sequences[3].n_generated, 12);
    }

    void bad_requests() {
        const auto prompt = raw_prompt("Hello");
        auto a = Session::create(model_, {.n_ctx = 64});
        auto b = Session::create(model_, {.n_ctx = 64});
        QVERIFY(a && b);
        auto expect = [](const Result<BatchGenerationStats>& r, ErrorCode code, const char* text) {
            QVERIFY(!r);
            QCOMPARE(r.error().code, code);
            QVERIFY2(r.error().message.find(text) != std::string::npos, r.error().message.c_str());
        };
        expect(generate_together({}), ErrorCode::invalid_argument, "no sequences");
        SequenceRequest twice[2] = {{&*a, prompt, greedy(), {}, {}},
                                    {&*a, prompt, greedy(), {}, {}}};
        expect(generate_together(twice), ErrorCode::invalid_argument,
               "sequence 2: the same session");
        SequenceRequest empty[2] = {{&*a, prompt, greedy(), {}, {}}, {&*b, {}, greedy(), {}, {}}};
        expect(generate_together(empty), ErrorCode::invalid_argument,
               "sequence 2: the prompt is empty");
        SamplingParams bad = greedy();
        bad.top_p = 0.0f;
        SequenceRequest bad_sampling[2] = {{&*a, prompt, bad, {}, {}},
                                           {&*b, prompt, greedy(), {}, {}}};
        expect(generate_together(bad_sampling), ErrorCode::invalid_argument, "sequence 1: ");
        const std::vector<int32_t> long_prompt(100, prompt[0]);
        SequenceRequest too_long[2] = {{&*a, prompt, greedy(), {}, {}},
                                       {&*b, long_prompt, greedy(), {}, {}}};
        expect(generate_together(too_long), ErrorCode::context_full,
               "sequence 2: the prompt has 100");
        SequenceRequest no_session[1] = {{nullptr, prompt, greedy(), {}, {}}};
        expect(generate_together(no_session), ErrorCode::invalid_argument, "no session");
        auto other_model = Model::load(test::default_model_path());
        QVERIFY(other_model);
        auto c = Session::create(*other_model, {.n_ctx = 64});
        QVERIFY(c);
        SequenceRequest two_models[2] = {{&*a, prompt, greedy(), {}, {}},
                                         {&*c, prompt, greedy(), {}, {}}};
        expect(generate_together(two_models), ErrorCode::invalid_argument, "another model");
        std::vector<SequenceRequest> many(kMaxSequencesTogether + 1,
                                          SequenceRequest{&*a, prompt, greedy(), {}, {}});
        expect(generate_together(many), ErrorCode::invalid_argument, "at most");
        // Nothing was generated by the failed calls: the caches are untouched.
        QVERIFY(a->cached_tokens().empty());
        QVERIFY(b->cached_tokens().empty());
    }
};

QTEST_GUILESS_MAIN(TestBatch)
#include "tst_batch.moc"
