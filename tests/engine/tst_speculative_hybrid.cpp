// Speculative decoding on hybrid models (qwen35, qwen35moe: gated delta-net layers with a
// recurrent state), on the tiny reference models: the verify pass's logits and the state it is
// brought back to (the copy at the pass's start and the kept tokens replayed) bit for bit
// against one-token decoding; greedy output with lookup, the model as its own draft, another
// hybrid and a transformer as the draft identical to plain decoding, with drafts partly
// rejected, and the state and cache left as plain decoding leaves them; several sequences
// speculating together and on the scheduler's slots; the memory a speculating sequence holds;
// seeded sampling repeating itself, and the token after a rollback keeping the target's
// distribution.
#include "cpu/forward.h"
#include "hearth/batch_generation.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"
#include "model/model_impl.h"
#include "session/drafter.h"
#include "session/session_impl.h"
#include "speculative_test_support.h"

#include <QtTest>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

using namespace hearth;
using test::generate;
using test::Generated;
using test::plain_sampling;
using test::repeating_prompt;

namespace {

const char* const kHybrids[] = {"qwen35", "qwen35_interval4", "qwen35moe", "qwen35moe_q8_0"};

// The sampling test: replies drawn, their temperature, and the fewest replies through a
// rollback with one (t1, t2) it needs for the chi-square's power.
constexpr int kTrials = 3000;
constexpr float kTemperature = 0.3f;
constexpr int kMinRolledBack = 300;

std::shared_ptr<const Model> load(const std::string& name) {
    return test::load_model(test::arch_file(name));
}

// Whether two states hold the same bits (every recurrent layer's conv and delta-rule state)
// and stand at the same position.
bool same_state(const ModelInfo& info, const cpu::RecurrentState& a, const cpu::RecurrentState& b) {
    const LinearAttentionInfo& la = info.linear_attention;
    if (a.position() != b.position()) {
        return false;
    }
    for (uint32_t il = 0; il < info.n_layer; ++il) {
        if (info.is_recurrent(il) &&
            (std::memcmp(a.conv(il), b.conv(il), la.conv_state_floats() * sizeof(float)) != 0 ||
             std::memcmp(a.ssm(il), b.ssm(il), la.ssm_state_floats() * sizeof(float)) != 0)) {
            return false;
        }
    }
    return true;
}

// Lookup, a hybrid draft, none and a transformer draft: requests that run together.
std::vector<SpeculationOptions> mixed_modes(const std::shared_ptr<const Model>& hybrid_draft,
                                            const std::shared_ptr<const Model>& transformer) {
    return {
        {.mode = SpeculationMode::lookup, .draft_max = 4, .lookup_ngram = 2},
        {.mode = SpeculationMode::draft_model,
         .draft_max = 3,
         .draft_p_min = 0.0f,
         .draft_model = hybrid_draft},
        {},
        {.mode = SpeculationMode::draft_model,
         .draft_max = 6,
         .draft_p_min = 0.0f,
         .draft_model = transformer},
    };
}

const cpu::RecurrentState& state_of(Session& session) {
    return SessionAccess::impl(session).state;
}

} // namespace

class TestSpeculativeHybrid : public QObject {
    Q_OBJECT

private slots:
    // A verify pass of k + 1 tokens of one sequence gives each row one-token decoding's logits,
    // and the state brought back to any of its positions (past the first) holds the bits that
    // decoding the kept tokens one by one leaves; decoding goes on from it identically.
    void verify_pass_and_rewound_state_are_one_token_decodings_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("kept");
        for (const char* name : kHybrids) {
            for (int kept : {1, 2, 4, 6}) {
                QTest::newRow(qPrintable(QString("%1, %2 of 6 kept").arg(name).arg(kept)))
                    << QString(name) << kept;
            }
        }
    }
    void verify_pass_and_rewound_state_are_one_token_decodings() {
        QFETCH(QString, name);
        QFETCH(int, kept);
        auto model = load(name.toStdString());
        QVERIFY(model);
        const Model::Impl& m = model->impl();
        const ModelInfo& info = m.info;
        cpu::Forward forward(m);
        cpu::KvCache one(info, 64, KvCacheType::f16), pass(info, 64, KvCacheType::f16);
        cpu::RecurrentState one_state(info), pass_state(info);
        const std::vector<int32_t> prompt = repeating_prompt(int32_t(info.n_vocab), 20, 3);
        for (auto [cache, state] : {std::pair{&one, &one_state}, std::pair{&pass, &pass_state}}) {
            std::vector<cpu::BatchToken> batch;
            for (size_t i = 0; i < prompt.size(); ++i) {
                batch.push_back(
                    {.token = prompt[i], .pos = uint32_t(i), .cache = cache, .state = state});
            }
            QVERIFY(forward.run(batch, nullptr));
        }
        const std::vector<int32_t> next = {7, 11, 13, 17, 19, 23};
        const size_t n_vocab = info.n_vocab;
        std::vector<float> alone(next.size() * n_vocab), together(next.size() * n_vocab);
        std::vector<cpu::BatchToken> batch;
        for (size_t i = 0; i < next.size(); ++i) {
            batch.push_back({.token = next[i],
                             .pos = uint32_t(prompt.size() + i),
                             .cache = &pass,
                             .want_logits = true,
                             .kernels = cpu::AttentionKernels::single_token,
                             .state = &pass_state});
        }
        pass_state.begin_verify(uint32_t(next.size()));
        QVERIFY(forward.run(batch, together.data()));
        QCOMPARE(pass_state.position(), uint32_t(prompt.size() + next.size()));
        // One-token decoding of the first `kept` tokens; its state is the reference.
        for (size_t i = 0; i < size_t(kept); ++i) {
            const cpu::BatchToken t{.token = next[i],
                                    .pos = uint32_t(prompt.size() + i),
                                    .cache = &one,
                                    .want_logits = true,
                                    .state = &one_state};
            QVERIFY(forward.run({&t, 1}, alone.data() + i * n_vocab));
            QVERIFY2(std::memcmp(alone.data() + i * n_vocab, together.data() + i * n_vocab,
                                 n_vocab * sizeof(float)) == 0,
                     qPrintable(QString("row %1 of the verify pass differs").arg(i)));
        }
        QVERIFY(!same_state(info, one_state, pass_state) || size_t(kept) == next.size());
        forward.rewind_verified(pass_state, uint32_t(prompt.size() + size_t(kept)));
        QVERIFY(!pass_state.verifying());
        QVERIFY2(same_state(info, one_state, pass_state), "the rewound state differs");
        // Decoding goes on from the rewound state (the cache's cells past it are not read).
        std::vector<float> a(n_vocab), b(n_vocab);
        for (auto [cache, state, logits] :
             {std::tuple{&one, &one_state, a.data()}, std::tuple{&pass, &pass_state, b.data()}}) {
            const cpu::BatchToken t{.token = 42,
                                    .pos = uint32_t(prompt.size() + size_t(kept)),
                                    .cache = cache,
                                    .want_logits = true,
                                    .state = state};
            QVERIFY(forward.run({&t, 1}, logits));
        }
        QVERIFY(std::memcmp(a.data(), b.data(), n_vocab * sizeof(float)) == 0);
        QVERIFY(same_state(info, one_state, pass_state));
    }

    // Greedy output with speculation is the output without, with lookup, the model as its own
    // draft, another hybrid and a transformer as the draft; the cache and the recurrent state
    // hold what plain decoding leaves (the rejected tokens rolled back), and the next turn,
    // which resumes from them, is the same too.
    void greedy_identity_and_rollback_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : kHybrids) {
            QTest::newRow(name) << QString(name);
        }
    }
    void greedy_identity_and_rollback() {
        QFETCH(QString, name);
        auto model = load(name.toStdString());
        auto other_hybrid = load(name == "qwen35" ? "qwen35_interval4" : "qwen35");
        auto transformer = load("llama_q8_0");
        QVERIFY(model && other_hybrid && transformer);
        const ModelInfo& info = model->info();
        std::vector<SpeculationOptions> modes(5);
        modes[1] = {.mode = SpeculationMode::lookup, .draft_max = 6, .lookup_ngram = 2};
        int mode = 2;
        for (const auto& draft : {model, other_hybrid, transformer}) {
            modes[size_t(mode++)] = {.mode = SpeculationMode::draft_model,
                                     .draft_max = 5,
                                     .draft_p_min = 0.0f,
                                     .draft_model = draft};
        }
        int rejected = 0, accepted = 0, lookup_drafted = 0, self_drafted = 0;
        for (uint32_t seed : {1u, 2u, 3u}) {
            const auto prompt = repeating_prompt(int32_t(info.n_vocab), 24 + seed * 5, seed);
            std::vector<Generated> runs, turns;
            std::vector<Session> sessions;
            for (const SpeculationOptions& speculation : modes) {
                auto session = Session::create(model, {.n_ctx = 128});
                QVERIFY(session);
                runs.push_back(generate(*session, prompt, 40, speculation, plain_sampling(0)));
                QCOMPARE(state_of(*session).position(), uint32_t(runs.back().cached.size()));
                auto next = prompt;
                next.insert(next.end(), runs.back().tokens.begin(), runs.back().tokens.end());
                next.push_back(9);
                turns.push_back(generate(*session, next, 12, speculation, plain_sampling(0)));
                // The state stood where the cache ended: nothing of the reply was run again.
                QCOMPARE(turns.back().stats.n_reused, int(runs.back().cached.size()));
                sessions.push_back(std::move(*session));
            }
            for (size_t i = 1; i < runs.size(); ++i) {
                QCOMPARE(runs[i].tokens, runs[0].tokens);
                QCOMPARE(runs[i].stats.stop, runs[0].stats.stop);
                QCOMPARE(runs[i].cached, runs[0].cached);
                QCOMPARE(turns[i].tokens, turns[0].tokens);
                QVERIFY(same_state(info, state_of(sessions[i]), state_of(sessions[0])));
                accepted += runs[i].stats.n_draft_accepted;
                rejected += runs[i].stats.n_drafted - runs[i].stats.n_draft_accepted;
            }
            lookup_drafted += runs[1].stats.n_drafted;
            self_drafted += runs[2].stats.n_drafted;
        }
        QVERIFY(lookup_drafted > 0 && self_drafted > 0);
        QVERIFY2(accepted > 0 && rejected > 0,
                 qPrintable(QString("%1 accepted, %2 rejected").arg(accepted).arg(rejected)));
    }

    // Sequences speculating together in one pass (lookup, a hybrid and a transformer draft,
    // and one without) each give what they give alone, drafts rejected on the way.
    void sequences_speculate_together() {
        auto model = load("qwen35");
        auto draft = load("qwen35_interval4");
        auto transformer = load("llama");
        QVERIFY(model && draft && transformer);
        const int32_t n_vocab = int32_t(model->info().n_vocab);
        const std::vector<SpeculationOptions> modes = mixed_modes(draft, transformer);
        std::vector<std::vector<int32_t>> prompts;
        std::vector<Generated> alone;
        for (size_t i = 0; i < modes.size(); ++i) {
            prompts.push_back(repeating_prompt(n_vocab, 20 + 3 * i, uint32_t(10 + i)));
            auto session = Session::create(model, {.n_ctx = 96});
            QVERIFY(session);
            alone.push_back(generate(*session, prompts[i], 30, {}, plain_sampling(0)));
        }
        std::vector<Session> sessions;
        std::vector<std::vector<int32_t>> together(modes.size());
        std::vector<SequenceRequest> requests;
        for (size_t i = 0; i < modes.size(); ++i) {
            auto session = Session::create(model, {.n_ctx = 96});
            QVERIFY(session);
            sessions.push_back(std::move(*session));
        }
        for (size_t i = 0; i < modes.size(); ++i) {
            requests.push_back(
                {.session = &sessions[i],
                 .prompt = prompts[i],
                 .sampling = plain_sampling(0),
                 .options = {.max_tokens = 30, .stop_strings = {}, .speculation = modes[i]},
                 .on_token = [&together, i](const TokenEvent& e) {
                     if (e.token >= 0) {
                         together[i].push_back(e.token);
                     }
                     return true;
                 }});
        }
        auto stats = generate_together(requests);
        QVERIFY2(stats, stats ? "" : stats.error().message.c_str());
        int rejected = 0;
        for (size_t i = 0; i < modes.size(); ++i) {
            QCOMPARE(together[i], alone[i].tokens);
            QCOMPARE(sessions[i].cached_tokens(), alone[i].cached);
            const GenerationStats& s = stats->sequences[i];
            QCOMPARE(s.n_drafted > 0, modes[i].enabled());
            rejected += s.n_drafted - s.n_draft_accepted;
        }
        QVERIFY(rejected > 0);
    }

    // The scheduler's slots speculate on a hybrid too: four requests on two slots (a slot runs
    // a second request on the state its first left) each give their reply alone.
    void scheduler_slots_speculate() {
        auto model = load("qwen35moe");
        auto draft = load("qwen35");
        auto transformer = load("llama");
        QVERIFY(model && draft && transformer);
        auto scheduler = Scheduler::create(model, {.n_slots = 2, .session = {.n_ctx = 96}});
        QVERIFY(scheduler);
        const std::vector<SpeculationOptions> modes = mixed_modes(draft, transformer);
        std::vector<std::vector<int32_t>> prompts;
        std::vector<Generated> alone;
        for (size_t i = 0; i < modes.size(); ++i) {
            prompts.push_back(
                repeating_prompt(int32_t(model->info().n_vocab), 22 + 4 * i, uint32_t(20 + i)));
            auto session = Session::create(model, {.n_ctx = 96});
            QVERIFY(session);
            alone.push_back(generate(*session, prompts[i], 24, {}, plain_sampling(0)));
        }
        const test::ScheduledReplies replies =
            test::scheduled_replies(**scheduler, prompts, modes, 24, plain_sampling(0));
        int drafted = 0;
        for (size_t i = 0; i < modes.size(); ++i) {
            const auto& done = *replies.done[i];
            QVERIFY2(done.has_value(), done.has_value() ? "" : done.error().message.c_str());
            QCOMPARE(replies.tokens[i], alone[i].tokens);
            drafted += done->n_drafted;
        }
        QVERIFY(drafted > 0);
    }

    // A speculating sequence holds one more copy of its state and the log of its largest
    // verify pass, no more than the plan's speculation_bytes_per_seq; a plain one holds none.
    void memory_counts_the_verification() {
        auto model = load("qwen35");
        QVERIFY(model);
        const ModelInfo& info = model->info();
        const LinearAttentionInfo& la = info.linear_attention;
        const uint64_t n_recurrent = info.n_layer - info.n_attention_layers();
        const uint64_t log_row = (2 * la.conv_channels() + 2ull * la.n_v_heads) * 4;
        const MemoryPlan plan = plan_memory(info, {.n_ctx = 128});
        QCOMPARE(plan.speculation_bytes_per_seq,
                 info.recurrent_state_bytes() + (1 + kMaxDraftTokens) * n_recurrent * log_row);
        QVERIFY(plan.total_bytes ==
                plan.weights_bytes + plan.kv_bytes + plan.recurrent_bytes + plan.scratch_bytes);
        QCOMPARE(plan_memory(load("llama")->info(), {}).speculation_bytes_per_seq, uint64_t(0));
        const auto prompt = repeating_prompt(int32_t(info.n_vocab), 30, 4);
        auto plain = Session::create(model, {.n_ctx = 128});
        auto speculating = Session::create(model, {.n_ctx = 128});
        QVERIFY(plain && speculating);
        const uint64_t before = plain->kv_cache_bytes();
        QCOMPARE(speculating->kv_cache_bytes(), before);
        const SpeculationOptions lookup{
            .mode = SpeculationMode::lookup, .draft_max = 6, .lookup_ngram = 2};
        generate(*plain, prompt, 20, {}, plain_sampling(0));
        const Generated run = generate(*speculating, prompt, 20, lookup, plain_sampling(0));
        QVERIFY(run.stats.n_drafted > 0);
        QCOMPARE(plain->kv_cache_bytes(), before);
        const uint64_t extra = speculating->kv_cache_bytes() - before;
        bool one_pass_size = false;
        for (uint32_t n = 2; n <= 7; ++n) {
            one_pass_size = one_pass_size || extra == info.recurrent_verify_bytes(n);
        }
        QVERIFY2(one_pass_size, qPrintable(QString("%1 bytes more").arg(extra)));
        QVERIFY(extra <= plan.speculation_bytes_per_seq);
    }

    // Sampling with speculation keeps the target's distribution through a rollback: among
    // replies whose second token replaced a rejected lookup draft (so the state was rewound
    // to the first token and the second ran in the next pass), the third token's frequencies
    // follow the target's distribution after those two tokens (chi-square), and not the one a
    // state that kept the rejected draft, or lost the first token, would give.
    void sampling_keeps_the_distribution_through_a_rollback() {
        auto model = load("qwen35");
        QVERIFY(model);
        const auto prompt = repeating_prompt(int32_t(model->info().n_vocab), 40, 6);
        const SpeculationOptions lookup{
            .mode = SpeculationMode::lookup, .draft_max = 3, .lookup_ngram = 1};
        SamplingParams sampling = plain_sampling(kTemperature);
        auto session = Session::create(model, {.n_ctx = 64});
        QVERIFY(session);
        std::map<std::pair<int32_t, int32_t>, std::vector<int>> third; // by (t1, t2)
        std::map<int32_t, std::vector<int32_t>> drafts;                // lookup's after t1
        for (int trial = 0; trial < kTrials; ++trial) {
            sampling.seed = uint64_t(trial) + 1;
            const Generated run = generate(*session, prompt, 3, lookup, sampling);
            if (run.tokens.size() < 3) {
                continue; // the end of generation drawn
            }
            auto& counts = third[{run.tokens[0], run.tokens[1]}];
            counts.resize(model->info().n_vocab);
            counts[size_t(run.tokens[2])] += 1;
        }
        // The most frequent (t1, t2) whose t2 is not lookup's first draft after t1.
        std::pair<int32_t, int32_t> best{-1, -1};
        int best_n = 0;
        for (const auto& [prefix, counts] : third) {
            auto history = prompt;
            history.push_back(prefix.first);
            std::vector<int32_t> draft;
            lookup_draft(history, 1, 3, draft);
            const int n = std::accumulate(counts.begin(), counts.end(), 0);
            if (!draft.empty() && draft[0] != prefix.second && n > best_n) {
                best = prefix;
                best_n = n;
                drafts[prefix.first] = draft;
            }
        }
        QVERIFY2(best_n >= kMinRolledBack, qPrintable(QString("%1 replies").arg(best_n)));
        // The target's distribution after a given history, from a fresh session.
        auto p_after = [&](std::vector<int32_t> history) {
            auto fresh = Session::create(model, {.n_ctx = 64});
            auto logits = fresh->append(history);
            Sampler reference(plain_sampling(kTemperature));
            return reference.distribution(*logits, history);
        };
        auto chi = [&](const std::vector<TokenProbability>& p) {
            std::vector<double> expected(third[best].size(), 0.0);
            for (const TokenProbability& t : p) {
                expected[size_t(t.token)] = t.p * best_n;
            }
            // Tokens expected fewer than 5 times are pooled into one cell.
            double value = 0.0, pooled_e = 0.0, pooled_n = 0.0;
            for (size_t i = 0; i < expected.size(); ++i) {
                const double n = third[best][i];
                if (expected[i] < 5.0) {
                    pooled_e += expected[i];
                    pooled_n += n;
                } else {
                    value += (n - expected[i]) * (n - expected[i]) / expected[i];
                }
            }
            if (pooled_e > 0.0) {
                value += (pooled_n - pooled_e) * (pooled_n - pooled_e) / pooled_e;
            } else if (pooled_n > 0.0) {
                value += 1e9;
            }
            return value;
        };
        auto with = [&](std::initializer_list<int32_t> tail, bool drop_first) {
            auto history = prompt;
            history.insert(history.end(), tail.begin(), tail.end());
            if (drop_first) {
                history.erase(history.end() - 2);
            }
            return history;
        };
        const auto right = p_after(with({best.first, best.second}, false));
        size_t cells = 1;
        for (const TokenProbability& t : right) {
            cells += t.p * best_n >= 5.0 ? 1 : 0;
        }
        // The 0.999 quantile of chi-square with `cells - 1` degrees of freedom (Wilson-Hilferty).
        const double k = double(cells - 1);
        const double bound =
            k * std::pow(1.0 - 2.0 / (9.0 * k) + 3.09 * std::sqrt(2.0 / (9.0 * k)), 3);
        const double value = chi(right);
        QVERIFY2(
            value < bound,
            qPrintable(
                QString("chi-square %1 over %2 cells, bound %3").arg(value).arg(cells).arg(bound)));
        const int32_t rejected = drafts[best.first][0];
        QVERIFY2(chi(p_after(with({best.first, rejected, best.second}, false))) > bound,
                 "the test cannot tell a state that kept the rejected draft");
        QVERIFY2(chi(p_after(with({best.first, best.second}, true))) > bound,
                 "the test cannot tell a state that lost the first token");
    }

    // Sampling with speculation repeats itself for the same seed and settings.
    void seeded_sampling_repeats() {
        auto model = load("qwen35moe");
        auto draft = load("qwen35");
        QVERIFY(model && draft);
        const std::string failure = test::seeded_sampling_failure(model, draft);
        QVERIFY2(failure.empty(), failure.c_str());
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeHybrid)
#include "tst_speculative_hybrid.moc"
