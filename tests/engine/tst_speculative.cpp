// Speculative decoding without the default model: the accept/reject rule against the target's
// distribution (chi-square, with wrong rules shown to fail it), prompt lookup, the verify
// pass's logits bit for bit against one-token decoding on every weight type of the tiny
// reference models, greedy identity and the KV rollback on them, and the refusals.
#include "cpu/forward.h"
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "hearth/model.h"
#include "hearth/session.h"
#include "model/model_impl.h"
#include "session/drafter.h"
#include "speculative_test_support.h"

#include <QtTest>
#include <cmath>
#include <cstring>
#include <random>

using namespace hearth;
using test::arch_file;
using test::generate;
using test::Generated;
using test::plain_sampling;
using test::repeating_prompt;

namespace {

constexpr size_t kVocab = 8;
// The chi-square value a correct rule stays under with probability 0.999 at 7 degrees of
// freedom; a fixed seed makes each run the same.
constexpr double kChiSquare999 = 24.32;
constexpr int kTrials = 40000;

SamplingParams greedy() {
    return plain_sampling(0.0f);
}

double chi_square(const std::vector<int>& counts, const std::vector<TokenProbability>& p) {
    std::vector<double> expected(kVocab, 0.0);
    for (const TokenProbability& t : p) {
        expected[static_cast<size_t>(t.token)] = t.p;
    }
    double chi = 0.0;
    for (size_t i = 0; i < kVocab; ++i) {
        const double e = expected[i] * kTrials;
        if (e == 0.0) {
            chi += counts[i] > 0 ? 1e9 : 0.0; // a token outside the target's support
            continue;
        }
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

int32_t draw_from(const std::vector<TokenProbability>& q, std::mt19937& rng) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    double cumulative = 0.0;
    for (const TokenProbability& t : q) {
        cumulative += t.p;
        if (u < cumulative) {
            return t.token;
        }
    }
    return q.back().token;
}

std::vector<TokenProbability> dense(std::initializer_list<float> probabilities) {
    std::vector<TokenProbability> out;
    int32_t token = 0;
    for (float p : probabilities) {
        out.push_back({token++, p});
    }
    return out;
}

} // namespace

class TestSpeculative : public QObject {
    Q_OBJECT

private slots:
    // The rule keeps the target's distribution, whatever the draft's: a draft model's q, and a
    // deterministic drafter (lookup) that always proposes an unlikely token.
    void accept_reject_keeps_the_target_distribution_data() {
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("top_k");
        QTest::addColumn<bool>("deterministic");
        QTest::newRow("q from a draft model") << 1.0f << 0 << false;
        QTest::newRow("q, temperature 0.7, top-k 5") << 0.7f << 5 << false;
        QTest::newRow("a deterministic draft") << 1.0f << 0 << true;
        QTest::newRow("a deterministic draft, top-k 3") << 0.8f << 3 << true;
    }
    void accept_reject_keeps_the_target_distribution() {
        QFETCH(float, temperature);
        QFETCH(int, top_k);
        QFETCH(bool, deterministic);
        const std::vector<float> logits = {2.0f, 1.5f, 0.3f, -0.2f, 1.0f, -1.0f, 0.5f, 0.0f};
        // The draft's q differs from p everywhere, with mass where p has none after top-k.
        const auto q = dense({0.05f, 0.30f, 0.05f, 0.20f, 0.05f, 0.15f, 0.10f, 0.10f});
        SamplingParams params = plain_sampling(temperature);
        params.top_k = top_k;
        params.seed = 1234;
        Sampler target(params);
        Sampler reference(params);
        const std::vector<TokenProbability> p = reference.distribution(logits, {});
        QCOMPARE(p.size(), top_k > 0 ? size_t(top_k) : kVocab);

        std::mt19937 draft_rng(99);
        std::vector<int> counts(kVocab, 0), always_accept(kVocab, 0), reject_to_p(kVocab, 0);
        int accepted = 0;
        for (int i = 0; i < kTrials; ++i) {
            const int32_t drafted = deterministic ? 1 : draw_from(q, draft_rng);
            const auto verdict = deterministic ? target.verify(logits, {}, drafted, {})
                                               : target.verify(logits, {}, drafted, q);
            counts[static_cast<size_t>(verdict.token)] += 1;
            accepted += verdict.accepted ? 1 : 0;
            QCOMPARE(verdict.accepted, verdict.token == drafted);
            // Two wrong rules, for the test's power: keeping every draft, and on a rejection
            // drawing from p itself instead of the residual.
            always_accept[static_cast<size_t>(drafted)] += 1;
            if (verdict.accepted) {
                reject_to_p[static_cast<size_t>(drafted)] += 1;
            } else {
                reject_to_p[static_cast<size_t>(reference.sample(logits, {}))] += 1;
            }
        }
        const double chi = chi_square(counts, p);
        QVERIFY2(chi < kChiSquare999, qPrintable(QString("chi-square %1").arg(chi)));
        QVERIFY2(chi_square(always_accept, p) > kChiSquare999, "the test cannot tell a wrong rule");
        QVERIFY2(chi_square(reject_to_p, p) > kChiSquare999, "the test cannot tell a wrong rule");
        QVERIFY(accepted > 0 && accepted < kTrials);
    }

    // A draft that is the target's own distribution is always accepted.
    void a_draft_with_the_target_distribution_is_always_accepted() {
        const std::vector<float> logits = {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0.0f, 1.0f, 2.0f};
        Sampler target(plain_sampling(1.0f));
        Sampler draft(plain_sampling(1.0f));
        draft.reseed(7);
        const auto q = draft.distribution(logits, {});
        for (int i = 0; i < 500; ++i) {
            const int32_t d = draft.draw(q);
            QVERIFY(target.verify(logits, {}, d, q).accepted);
        }
    }

    void greedy_verification_accepts_the_argmax_only() {
        const std::vector<float> logits = {0.1f, 3.0f, 0.3f, 0.4f, -0.5f, 0.0f, 1.0f, 2.0f};
        SamplingParams params = greedy();
        params.trace = true;
        Sampler target(params);
        auto yes = target.verify(logits, {}, 1, {});
        QVERIFY(yes.accepted);
        QCOMPARE(yes.token, 1);
        QVERIFY(target.last_trace() && target.last_trace()->draft_accepted);
        auto no = target.verify(logits, {}, 7, {});
        QVERIFY(!no.accepted);
        QCOMPARE(no.token, 1);
        QCOMPARE(target.last_trace()->drafted, 7);
        QCOMPARE(target.last_trace()->chosen, 1);
        QVERIFY(!target.last_trace()->draft_accepted);
    }

    void lookup_drafts_the_continuation_of_the_last_ngram() {
        std::vector<int32_t> out;
        // "5 6 7" occurred before, followed by 8 9 1: the longest n-gram wins.
        const std::vector<int32_t> history = {1, 5, 6, 7, 8, 9, 1, 2, 6, 7, 3, 5, 6, 7};
        lookup_draft(history, 3, 8, out);
        QCOMPARE(out, (std::vector<int32_t>{8, 9, 1, 2, 6, 7, 3, 5}));
        lookup_draft(history, 3, 2, out);
        QCOMPARE(out, (std::vector<int32_t>{8, 9}));
        // With n-grams of 1 only, the most recent earlier 7 is followed by 3.
        lookup_draft(history, 1, 4, out);
        QCOMPARE(out, (std::vector<int32_t>{3, 5, 6, 7}));
        lookup_draft(std::vector<int32_t>{1, 2, 3, 4}, 3, 4, out);
        QVERIFY(out.empty());
        lookup_draft(std::vector<int32_t>{}, 3, 4, out);
        QVERIFY(out.empty());
        lookup_draft(std::vector<int32_t>{4}, 3, 4, out);
        QVERIFY(out.empty());
    }

    // The trap greedy identity rests on: a verify pass runs k + 1 tokens of one sequence
    // with the single-token kernels; every row must be what decoding them one by one gives,
    // bit for bit, on every weight type (the int8 GEMM tiles of a prompt are not used for
    // these rows' attention, and the matrix products give each row the one-row result).
    void verify_pass_logits_are_one_token_decoding_bit_for_bit_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("kv");
        for (const char* name : {"llama", "llama_q4_0", "llama_q8_0", "llama_f16", "llama_bf16",
                                 "llama_iq_mix", "llama_mxfp4", "llama_moe", "qwen3", "gemma3",
                                 "gpt_oss", "qwen3moe_q8_0", "phi3_long", "mistral3"}) {
            QTest::newRow(name) << QString(name) << int(KvCacheType::f16);
        }
        QTest::newRow("llama_q4_0, Q8_0 cache") << QString("llama_q4_0") << int(KvCacheType::q8_0);
        QTest::newRow("llama, Q8_0 cache") << QString("llama") << int(KvCacheType::q8_0);
    }
    void verify_pass_logits_are_one_token_decoding_bit_for_bit() {
        QFETCH(QString, name);
        QFETCH(int, kv);
        auto model = test::load_model(arch_file(name.toStdString()));
        QVERIFY(model);
        const Model::Impl& m = model->impl();
        const ModelInfo& info = m.info;
        const auto type = static_cast<KvCacheType>(kv);
        cpu::Forward forward(m);
        cpu::KvCache one(info, 64, type), pass(info, 64, type);
        const std::vector<int32_t> prompt = repeating_prompt(int32_t(info.n_vocab), 20, 3);
        for (cpu::KvCache* cache : {&one, &pass}) {
            std::vector<cpu::BatchToken> batch;
            for (size_t i = 0; i < prompt.size(); ++i) {
                batch.push_back({.token = prompt[i], .pos = uint32_t(i), .cache = cache});
            }
            QVERIFY(forward.run(batch, nullptr));
        }
        const std::vector<int32_t> next = {7, 11, 13, 17, 19, 23, 29, 31, 37};
        const size_t n_vocab = info.n_vocab;
        std::vector<float> alone(next.size() * n_vocab), together(next.size() * n_vocab);
        std::vector<cpu::BatchToken> batch;
        for (size_t i = 0; i < next.size(); ++i) {
            const cpu::BatchToken t{.token = next[i],
                                    .pos = uint32_t(prompt.size() + i),
                                    .cache = &one,
                                    .want_logits = true};
            QVERIFY(forward.run({&t, 1}, alone.data() + i * n_vocab));
            batch.push_back({.token = next[i],
                             .pos = uint32_t(prompt.size() + i),
                             .cache = &pass,
                             .want_logits = true,
                             .kernels = cpu::AttentionKernels::single_token});
        }
        QVERIFY(forward.run(batch, together.data()));
        for (size_t i = 0; i < next.size(); ++i) {
            QVERIFY2(std::memcmp(alone.data() + i * n_vocab, together.data() + i * n_vocab,
                                 n_vocab * sizeof(float)) == 0,
                     qPrintable(QString("row %1 of the verify pass differs").arg(i)));
        }
    }

    // Greedy output with speculation is the output without, on several weight types, with
    // lookup, the model as its own draft and another model as the draft; and the cache holds
    // exactly the tokens decoded (the rejected ones rolled back), which the next turn reuses.
    void greedy_identity_and_rollback_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : {"llama", "llama_q4_0", "llama_q8_0", "llama_iq_mix", "llama_moe",
                                 "qwen3", "gemma3"}) {
            QTest::newRow(name) << QString(name);
        }
    }
    void greedy_identity_and_rollback() {
        QFETCH(QString, name);
        auto model = test::load_model(arch_file(name.toStdString()));
        auto other = test::load_model(arch_file(name == "llama_q8_0" ? "llama" : "llama_q8_0"));
        QVERIFY(model && other);
        const int32_t n_vocab = int32_t(model->info().n_vocab);
        std::vector<SpeculationOptions> modes(4);
        modes[1] = {.mode = SpeculationMode::lookup, .draft_max = 6, .lookup_ngram = 2};
        modes[2] = {.mode = SpeculationMode::draft_model,
                    .draft_max = 5,
                    .draft_p_min = 0.0f,
                    .draft_model = model};
        modes[3] = {.mode = SpeculationMode::draft_model,
                    .draft_max = 4,
                    .draft_p_min = 0.0f,
                    .draft_model = other};
        int rejected = 0, accepted = 0;
        for (uint32_t seed : {1u, 2u, 3u}) {
            const auto prompt = repeating_prompt(n_vocab, 24 + seed * 5, seed);
            std::vector<Generated> runs, turns;
            for (const SpeculationOptions& mode : modes) {
                auto session = Session::create(model, {.n_ctx = 128});
                QVERIFY(session);
                runs.push_back(generate(*session, prompt, 40, mode, greedy()));
                // The next turn continues on the cache the speculation left: it must hold the
                // cells one-token decoding leaves, bit for bit, or the turn could differ.
                auto next = prompt;
                next.insert(next.end(), runs.back().tokens.begin(), runs.back().tokens.end());
                next.push_back(9);
                turns.push_back(generate(*session, next, 12, mode, greedy()));
                QVERIFY(turns.back().stats.n_reused >= int(prompt.size()));
            }
            for (size_t i = 1; i < runs.size(); ++i) {
                QCOMPARE(runs[i].tokens, runs[0].tokens);
                QCOMPARE(runs[i].stats.stop, runs[0].stats.stop);
                // The cache holds what decoding without speculation leaves, nothing drafted.
                QCOMPARE(runs[i].cached, runs[0].cached);
                QCOMPARE(turns[i].tokens, turns[0].tokens);
                QCOMPARE(turns[i].stats.n_reused, turns[0].stats.n_reused);
                accepted += runs[i].stats.n_draft_accepted;
                rejected += runs[i].stats.n_drafted - runs[i].stats.n_draft_accepted;
            }
            // The model as its own draft mostly agrees with itself (not always: the draft
            // catches up on the target's tokens in batches, whose kernels differ in the last
            // bits, enough to flip a near tie of these random models).
            QVERIFY(runs[2].stats.n_drafted > 0);
            QVERIFY2(runs[2].stats.n_draft_accepted * 5 >= runs[2].stats.n_drafted * 4,
                     qPrintable(QString("%1 of %2 accepted")
                                    .arg(runs[2].stats.n_draft_accepted)
                                    .arg(runs[2].stats.n_drafted)));
        }
        QVERIFY2(accepted > 0 && rejected > 0, "the drafts were neither kept nor rolled back");
    }

    // Sampling with speculation repeats itself for the same seed and settings.
    void seeded_sampling_repeats() {
        auto model = test::load_model(arch_file("llama_q8_0"));
        QVERIFY(model);
        const std::string failure = test::seeded_sampling_failure(model, model);
        QVERIFY2(failure.empty(), failure.c_str());
    }

    void refusals() {
        auto hybrid = test::load_model(arch_file("qwen35"));
        auto llama = test::load_model(arch_file("llama"));
        QVERIFY(hybrid && llama);
        const std::vector<int32_t> prompt = {5, 6, 7, 8};
        auto expect = [&](const std::shared_ptr<const Model>& target,
                          const SpeculationOptions& speculation, ErrorCode code, const char* says) {
            auto session = Session::create(target, {.n_ctx = 64});
            QVERIFY(session);
            auto stats = session->generate(
                prompt, greedy(),
                {.max_tokens = 4, .stop_strings = {}, .speculation = speculation});
            QVERIFY(!stats);
            QCOMPARE(stats.error().code, code);
            QVERIFY2(stats.error().message.find(says) != std::string::npos,
                     stats.error().message.c_str());
        };
        // A hybrid speculates, as target and as draft (tst_speculative_hybrid checks how).
        for (const auto& [target, speculation] :
             {std::pair{hybrid, SpeculationOptions{.mode = SpeculationMode::lookup}},
              std::pair{llama, SpeculationOptions{.mode = SpeculationMode::draft_model,
                               .draft_model = hybrid}}}) {
            auto session = Session::create(target, {.n_ctx = 64});
            QVERIFY(session);
            QVERIFY(session->generate(
                prompt, greedy(),
                {.max_tokens = 4, .stop_strings = {}, .speculation = speculation}));
        }
        expect(llama, {.mode = SpeculationMode::draft_model}, ErrorCode::invalid_argument,
               "needs the model");
        expect(llama, {.mode = SpeculationMode::lookup, .draft_max = 0},
               ErrorCode::invalid_argument, "draft max");
        expect(llama, {.mode = SpeculationMode::lookup, .draft_max = kMaxDraftTokens + 1},
               ErrorCode::invalid_argument, "draft max");
        expect(llama, {.mode = SpeculationMode::lookup, .lookup_ngram = 0},
               ErrorCode::invalid_argument, "n-gram");
        expect(llama, {.mode = SpeculationMode::lookup, .draft_p_min = 2.0f},
               ErrorCode::invalid_argument, "p-min");

        // A draft whose vocabulary differs at one token: refused, naming it.
        auto file = GgufFile::open(arch_file("llama"));
        QVERIFY(file);
        auto metadata = file->metadata();
        for (GgufKeyValue& entry : metadata) {
            if (entry.key == "tokenizer.ggml.tokens") {
                const GgufArray& tokens = *entry.value.as_array();
                GgufArray renamed(GgufType::string);
                for (size_t i = 0; i < tokens.size(); ++i) {
                    renamed.append_string(i == 100 ? "<renamed>" : *tokens.string_at(i));
                }
                entry.value.data = std::move(renamed);
            }
        }
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / "renamed.gguf";
        test::write_file(path, test::serialize_gguf(metadata, test::tensor_records(*file)));
        auto renamed = test::load_model(path);
        QVERIFY(renamed);
        expect(llama, {.mode = SpeculationMode::draft_model, .draft_model = renamed},
               ErrorCode::unsupported, "at token 100: '<renamed>'");
    }
};

QTEST_GUILESS_MAIN(TestSpeculative)
#include "tst_speculative.moc"
