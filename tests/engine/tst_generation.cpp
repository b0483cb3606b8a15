// The CPU engine end to end on the default model: greedy generations and perplexity
// against llama.cpp (golden files from scripts/gen-generation-reference.py), and the
// Session's behaviour: prefix reuse, stop conditions, cancel, bad input.
#include "cpu/cpu_features.h"
#include "hearth/model.h"
#include "hearth/perplexity.h"
#include "hearth/prompt.h"
#include "hearth/session.h"
#include "test_support.h"
#include "top_logits.h"

#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

using namespace hearth;

namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

std::shared_ptr<const Model> load_default_model() {
    auto model = Model::load(test::default_model_path());
    if (!model) {
        qWarning("%s", model.error().message.c_str());
        return nullptr;
    }
    return *model;
}

using hearth::test::argmax;

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

} // namespace

class TestGeneration : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        model_ = load_default_model();
        QVERIFY(model_);
    }

    // Greedy generation against llama.cpp, token for token. With 8-bit activations this
    // small model is very sensitive to rounding: llama.cpp itself, fed the same prompt one
    // token at a time instead of in one batch, gives logits up to ~1 apart and other
    // greedy text for 10 of the 24 prompts (the golden file records both). Hearth's AVX2
    // path follows ggml's operation order (matmuls, attention, SwiGLU, RoPE), so there
    // every prompt must match exactly. Elsewhere (the portable kernels) a divergence is
    // accepted only at a near-tie — the two best logits closer than kNoiseFloor, half of
    // llama.cpp's own largest disagreement — and Hearth must agree with llama.cpp over at
    // least half as many tokens as llama.cpp agrees with itself.
    void greedy_matches_llama_cpp() {
        const bool bit_exact_path = cpu::kernel_level() == cpu::KernelLevel::avx2;
        constexpr float kNoiseFloor = 0.5f;
        const auto golden = read_json(test::data_dir() / "generation" / "smollm2_greedy.json");
        auto session = Session::create(model_, {.n_ctx = 512, .n_batch = 512});
        QVERIFY(session);
        int exact = 0;
        size_t agreed = 0, self_agreed = 0;
        QStringList report;
        for (const auto& c : golden["cases"]) {
            const auto prompt = c["prompt_tokens"].get<std::vector<int32_t>>();
            const auto expected = c["generated"].get<std::vector<int32_t>>();
            const auto reference_gaps = c["top2_gap"].get<std::vector<float>>();
            const auto self = c["llama_cpp_sequential_prompt"].get<std::vector<int32_t>>();
            size_t self_steps = 0;
            while (self_steps < expected.size() && self[self_steps] == expected[self_steps]) {
                ++self_steps;
            }
            self_agreed += self_steps;
            session->clear();
            auto logits = session->append(prompt);
            QVERIFY2(logits, logits ? "" : logits.error().message.c_str());
            size_t step = 0;
            float our_gap = 0;
            for (; step < expected.size(); ++step) {
                const int32_t token = argmax(*logits, &our_gap);
                if (token != expected[step]) {
                    break;
                }
                logits = session->append({&token, 1});
                QVERIFY(logits);
            }
            agreed += step;
            if (step == expected.size()) {
                ++exact;
                continue;
            }
            const float gap = std::min(reference_gaps[step], our_gap);
            const QString line = QString("prompt '%1': diverges at step %2 (top-2 logit gap there: "
                                         "llama.cpp %3, Hearth %4; llama.cpp against itself "
                                         "agrees for %5 steps)")
                                     .arg(QString::fromStdString(c["prompt"].get<std::string>())
                                              .left(30)
                                              .replace('\n', ' '))
                                     .arg(step)
                                     .arg(reference_gaps[step])
                                     .arg(our_gap)
                                     .arg(self_steps);
            report << line;
            QVERIFY2(gap < kNoiseFloor, qPrintable(line));
        }
        qInfo("%d of %d prompts match llama.cpp for all %d tokens; %zu tokens agreed in all "
              "(llama.cpp against itself: %zu)",
              exact, int(golden["cases"].size()), golden["n_generate"].get<int>(), agreed,
              self_agreed);
        for (const auto& line : report) {
            qInfo("%s", qPrintable(line));
        }
        if (bit_exact_path) {
            QVERIFY2(exact == int(golden["cases"].size()), qPrintable(report.join("; ")));
        }
        QVERIFY2(agreed * 10 >= self_agreed * 5,
                 qPrintable(QString("Hearth agrees with llama.cpp on %1 tokens, llama.cpp with "
                                    "itself on %2")
                                .arg(agreed)
                                .arg(self_agreed)));
    }

    // llama-perplexity's figure on genesis.txt through the engine's own perplexity (what
    // hearth-cli perplexity runs): windows of n_ctx tokens, the second half of each scored.
    void perplexity_matches_llama_cpp() {
        const auto golden = read_json(test::data_dir() / "generation" / "smollm2_perplexity.json");
        const std::string text = test::read_text(test::data_dir() / "generation" / "genesis.txt");
        auto tokens =
            model_->tokenizer().encode(text, {.add_special = true, .parse_special = false});
        QVERIFY(tokens);
        tokens->resize(golden["n_tokens"].get<size_t>());
        const uint32_t n_ctx = golden["n_ctx"].get<uint32_t>();
        // The reference keeps the text's tokens in every window (BOS only at the very start).
        auto windows = perplexity_windows(*tokens, n_ctx, 0, std::nullopt);
        QVERIFY2(windows, windows ? "" : windows.error().message.c_str());
        QCOMPARE(windows->size(), golden["n_chunks"].get<size_t>());
        auto session = Session::create(model_, {.n_ctx = n_ctx, .n_batch = n_ctx});
        QVERIFY(session);
        const auto measured = measure_perplexity(*session, *windows);
        QVERIFY2(measured, measured ? "" : measured.error().message.c_str());
        const double ours = *measured;
        const double theirs = golden["perplexity"].get<double>();
        qInfo("perplexity %.4f (llama.cpp %.4f), %.3f%% apart", ours, theirs,
              100 * std::abs(ours - theirs) / theirs);
        QVERIFY2(std::abs(ours - theirs) / theirs < 0.005,
                 qPrintable(QString("perplexity %1 vs llama.cpp %2").arg(ours).arg(theirs)));
    }

    void a_new_turn_reuses_the_cached_prefix() {
        auto session = Session::create(model_, {.n_ctx = 512});
        QVERIFY(session);
        auto format = resolve_prompt_format(*model_, "");
        QVERIFY(format);
        std::vector<ChatMessage> messages{{"user", "Name a colour."}};
        auto first = tokenize_prompt(model_->tokenizer(), *render_prompt(*format, messages, true));
        QVERIFY(first);
        auto stats = session->generate(*first, greedy(), {.max_tokens = 8, .stop_strings = {}});
        QVERIFY(stats);
        QCOMPARE(stats->n_reused, 0);
        QCOMPARE(session->n_tokens_computed(), uint64_t(first->size() + stats->n_generated - 1));
        messages.push_back({"assistant", stats->text});
        messages.push_back({"user", "Another one."});
        auto second = tokenize_prompt(model_->tokenizer(), *render_prompt(*format, messages, true));
        QVERIFY(second);
        const uint64_t before = session->n_tokens_computed();
        auto stats2 = session->generate(*second, greedy(), {.max_tokens = 4, .stop_strings = {}});
        QVERIFY(stats2);
        // Only the tokens after the shared prefix were computed.
        QVERIFY2(stats2->n_reused >= int(first->size()),
                 qPrintable(QString("reused %1 of %2").arg(stats2->n_reused).arg(first->size())));
        QCOMPARE(session->n_tokens_computed() - before,
                 uint64_t(stats2->n_prefilled + stats2->n_generated - 1));
    }

    void same_seed_same_text_and_max_tokens() {
        auto session = Session::create(model_, {.n_ctx = 256});
        QVERIFY(session);
        auto prompt =
            tokenize_prompt(model_->tokenizer(), "Once upon a time, there was a dragon who");
        QVERIFY(prompt);
        SamplingParams p;
        p.seed = 99;
        // The second run finds the prompt cached: the logits must still be the same bits.
        auto a = session->generate(*prompt, p, {.max_tokens = 24, .stop_strings = {}});
        auto b = session->generate(*prompt, p, {.max_tokens = 24, .stop_strings = {}});
        QVERIFY(a && b);
        QVERIFY(b->n_reused > 0);
        QCOMPARE(QString::fromStdString(a->text), QString::fromStdString(b->text));
        QCOMPARE(a->n_generated, b->n_generated);
        QVERIFY(a->n_generated <= 24);
        if (a->stop == StopReason::max_tokens) {
            QCOMPARE(a->n_generated, 24);
        } else {
            QCOMPARE(a->stop, StopReason::end_of_generation);
        }
        p.seed = 100;
        auto c = session->generate(*prompt, p, {.max_tokens = 24, .stop_strings = {}});
        QVERIFY(c);
        QVERIFY2(c->text != a->text, "another seed should give another text");
    }

    void stop_string_split_across_tokens() {
        auto session = Session::create(model_, {.n_ctx = 256});
        QVERIFY(session);
        auto prompt = tokenize_prompt(model_->tokenizer(), "1, 2, 3, 4, 5, 6,");
        QVERIFY(prompt);
        // Greedy continues " 7, 8, 9, 10, ..."; "9, 1" spans several tokens.
        std::string streamed;
        auto stats =
            session->generate(*prompt, greedy(), {.max_tokens = 40, .stop_strings = {"9, 1"}},
                              [&](const TokenEvent& e) {
                                  streamed += e.text;
                                  return true;
                              });
        QVERIFY(stats);
        QCOMPARE(stats->stop, StopReason::stop_string);
        QVERIFY2(stats->text.find("9, 1") == std::string::npos, stats->text.c_str());
        // The text stops where the stop string starts: "..., 8, " before "9, 10".
        QVERIFY2(stats->text.ends_with("8, "), stats->text.c_str());
        QCOMPARE(QString::fromStdString(streamed), QString::fromStdString(stats->text));
    }

    void cancel_from_another_thread() {
        auto session = Session::create(model_, {.n_ctx = 512});
        QVERIFY(session);
        auto prompt = tokenize_prompt(model_->tokenizer(), "Write a long essay about rivers.");
        QVERIFY(prompt);
        std::atomic<int> seen{0};
        std::thread canceller([&] {
            while (seen.load() < 3)
                std::this_thread::yield();
            session->cancel();
        });
        auto stats = session->generate(*prompt, greedy(), {.max_tokens = 400, .stop_strings = {}},
                                       [&](const TokenEvent&) {
                                           seen += 1;
                                           return true;
                                       });
        canceller.join();
        QVERIFY(stats);
        QCOMPARE(stats->stop, StopReason::cancelled);
        QVERIFY(stats->n_generated < 400);
    }

    void context_full_stops_with_a_reason() {
        auto session = Session::create(model_, {.n_ctx = 48});
        QVERIFY(session);
        auto prompt = tokenize_prompt(model_->tokenizer(), "Count: 1, 2, 3, 4, 5,");
        QVERIFY(prompt);
        QVERIFY(prompt->size() < 24);
        auto stats = session->generate(*prompt, greedy(), {.max_tokens = 100, .stop_strings = {}});
        QVERIFY2(stats, stats ? "" : stats.error().message.c_str());
        QCOMPARE(stats->stop, StopReason::context_full);
        QCOMPARE(session->cached_tokens().size(), size_t{47});
    }

    void truncate_keeps_a_prefix() {
        // The cache cut back to 5 tokens and continued: the logits of a session that ran the
        // same tokens straight through, bit for bit; a cut past the end keeps everything.
        const std::vector<int32_t> tokens{1, 504, 3024, 314, 260, 1345, 28, 2220, 30, 216};
        auto straight = Session::create(model_, {.n_ctx = 32});
        QVERIFY(straight);
        auto want = straight->append(tokens);
        QVERIFY(want);
        auto cut = Session::create(model_, {.n_ctx = 32});
        QVERIFY(cut);
        const std::vector<int32_t> other{1, 504, 3024, 314, 260, 77, 88, 99};
        QVERIFY(cut->append(other));
        QCOMPARE(cut->truncate(100), other.size());
        QCOMPARE(cut->truncate(5), size_t{5});
        QCOMPARE(cut->cached_tokens().size(), size_t{5});
        auto got = cut->append(std::span(tokens).subspan(5));
        QVERIFY(got);
        QVERIFY(std::ranges::equal(*got, *want));
    }

    void bad_input_is_rejected() {
        auto session = Session::create(model_, {.n_ctx = 16});
        QVERIFY(session);
        std::vector<int32_t> long_prompt(40, 42);
        auto too_long = session->generate(long_prompt, greedy(), {});
        QVERIFY(!too_long);
        QCOMPARE(too_long.error().code, ErrorCode::context_full);
        auto empty = session->generate({}, greedy(), {});
        QVERIFY(!empty);
        QCOMPARE(empty.error().code, ErrorCode::invalid_argument);
        SamplingParams bad;
        bad.top_p = 0.0f;
        const std::vector<int32_t> one{42};
        auto rejected = session->generate(one, bad, {});
        QVERIFY(!rejected);
        QVERIFY(rejected.error().message.find("top-p") != std::string::npos);
        const std::vector<int32_t> out_of_range{1 << 30};
        auto invalid = session->append(out_of_range);
        QVERIFY(!invalid);
        QVERIFY(invalid.error().message.find("outside the vocabulary") != std::string::npos);
        auto huge_context = Session::create(model_, {.n_ctx = 1 << 20});
        QVERIFY(!huge_context);
    }
};

QTEST_APPLESS_MAIN(TestGeneration)
#include "tst_generation.moc"
