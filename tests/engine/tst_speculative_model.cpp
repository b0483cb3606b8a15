// Speculative decoding on the default model (SmolLM2-135M-Instruct Q4_1): greedy replies are
// token for token the replies without it, with prompt lookup, with the model as its own draft
// and with a different draft (the model's first 20 of 30 layers under its own head, written
// here), alone and on a scheduler of two slots; a draft of another vocabulary is refused.
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"
#include "speculative_test_support.h"
#include "test_support.h"

#include <QtTest>

using namespace hearth;

namespace {

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

std::vector<int32_t> chat_prompt(const Model& model, const std::string& user) {
    auto format = resolve_prompt_format(model, "");
    if (!format) {
        return {};
    }
    const std::vector<ChatMessage> messages = {{"user", user}};
    auto text = render_prompt(*format, messages, true);
    if (!text) {
        return {};
    }
    auto tokens = tokenize_prompt(model.tokenizer(), *text);
    return tokens ? *tokens : std::vector<int32_t>{};
}

struct Reply {
    std::vector<int32_t> tokens;
    GenerationStats stats;
};

Reply reply(Session& session, const std::vector<int32_t>& prompt, const SpeculationOptions& spec,
            int max_tokens) {
    Reply out;
    auto stats = session.generate(
        prompt, greedy(), {.max_tokens = max_tokens, .stop_strings = {}, .speculation = spec},
        [&](const TokenEvent& e) {
            if (e.token >= 0) {
                out.tokens.push_back(e.token);
            }
            return true;
        });
    if (stats) {
        out.stats = *stats;
    } else {
        qWarning("%s", stats.error().message.c_str());
    }
    return out;
}

const std::vector<std::string> kPrompts = {
    "Rename the variable x to count in this code and show the result:\n"
    "def f(x):\n    for i in range(x):\n        print(i, x)\n    return x * 2",
    "What is the capital of France? Answer in one sentence.",
};

} // namespace

class TestSpeculativeModel : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;
    std::shared_ptr<const Model> skip_;
    QTemporaryDir dir_;

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        model_ = *model;
        // A different draft of the same vocabulary: the first 20 layers and the same head.
        auto file = GgufFile::open(path);
        QVERIFY(file);
        auto metadata = file->metadata();
        test::set_key(metadata, "llama.block_count", GgufValue{GgufType::uint32, uint64_t{20}});
        std::vector<test::TensorRecord> tensors;
        for (const test::TensorRecord& t : test::tensor_records(*file)) {
            const bool late = t.name.starts_with("blk.") && std::stoi(t.name.substr(4)) >= 20;
            if (!late) {
                tensors.push_back(t);
            }
        }
        const auto skip_path = std::filesystem::path(dir_.path().toStdString()) / "skip.gguf";
        test::write_file(skip_path, test::serialize_gguf(metadata, tensors));
        auto skip = Model::load(skip_path);
        QVERIFY2(skip, skip ? "" : skip.error().message.c_str());
        QCOMPARE(skip.value()->info().n_layer, 20u);
        skip_ = *skip;
    }

    void greedy_replies_are_unchanged() {
        const std::vector<std::pair<const char*, SpeculationOptions>> modes = {
            {"lookup 3", {.mode = SpeculationMode::lookup, .draft_max = 8, .lookup_ngram = 3}},
            {"lookup 1", {.mode = SpeculationMode::lookup, .draft_max = 3, .lookup_ngram = 1}},
            {"self draft",
             {.mode = SpeculationMode::draft_model, .draft_max = 6, .draft_model = model_}},
            {"20-layer draft",
             {.mode = SpeculationMode::draft_model,
              .draft_max = 3,
              .draft_p_min = 0.0f,
              .draft_model = skip_}},
        };
        for (const std::string& text : kPrompts) {
            const auto prompt = chat_prompt(*model_, text);
            QVERIFY(!prompt.empty());
            auto session = Session::create(model_, {.n_ctx = 256});
            QVERIFY(session);
            const Reply plain = reply(*session, prompt, {}, 40);
            QVERIFY(plain.tokens.size() > 5);
            for (const auto& [name, spec] : modes) {
                session->clear();
                const Reply fast = reply(*session, prompt, spec, 40);
                QVERIFY2(fast.tokens == plain.tokens, name);
                QCOMPARE(fast.stats.stop, plain.stats.stop);
                QCOMPARE(fast.stats.text, plain.stats.text);
                QVERIFY2(fast.stats.n_drafted > 0 || std::string(name).starts_with("lookup"), name);
                qInfo("%s: %d of %d drafted tokens accepted", name, fast.stats.n_draft_accepted,
                      fast.stats.n_drafted);
            }
        }
    }

    // Two requests on a scheduler of two slots, both speculating in the same passes.
    void scheduler_slots_speculate_together() {
        auto scheduler = Scheduler::create(model_, {.n_slots = 2, .session = {.n_ctx = 256}});
        QVERIFY(scheduler);
        const SpeculationOptions lookup{.mode = SpeculationMode::lookup, .lookup_ngram = 2};
        std::vector<std::vector<int32_t>> prompts, alone;
        for (const std::string& text : kPrompts) {
            prompts.push_back(chat_prompt(*model_, text));
            auto session = Session::create(model_, {.n_ctx = 256});
            QVERIFY(session);
            alone.push_back(reply(*session, prompts.back(), {}, 32).tokens);
        }
        const test::ScheduledReplies replies = test::scheduled_replies(
            **scheduler, prompts, std::vector<SpeculationOptions>(prompts.size(), lookup), 32,
            greedy());
        for (size_t i = 0; i < prompts.size(); ++i) {
            QVERIFY(replies.done[i]->has_value());
            QCOMPARE(replies.tokens[i], alone[i]);
        }
    }

    // hearth-cli run --lookup / --draft: the same reply, the acceptance line, the refusals.
    void cli_speculation() {
        const QString model = test::default_model_arg();
        const QStringList base = {"run",
                                  model,
                                  "-p",
                                  QString::fromStdString(kPrompts[0]),
                                  "-n",
                                  "24",
                                  "--temp",
                                  "0",
                                  "--repeat-penalty",
                                  "1"};
        const test::CliResult plain = test::run_cli(base);
        QCOMPARE(plain.exit_code, 0);
        QVERIFY(!plain.err.contains("drafted:"));
        for (const QStringList& extra :
             {QStringList{"--lookup", "3"}, QStringList{"--draft", model, "--draft-max", "4"},
              QStringList{"--draft", model, "--draft-p-min", "0"}}) {
            const test::CliResult fast = test::run_cli(base + extra);
            QVERIFY2(fast.exit_code == 0, fast.err.constData());
            QCOMPARE(fast.out, plain.out);
            QVERIFY2(fast.err.contains("drafted:") && fast.err.contains("accepted"),
                     fast.err.constData());
        }
        test::expect_cli_usage_error(base + QStringList{"--lookup", "0"}, "--lookup");
        test::expect_cli_usage_error(base + QStringList{"--lookup", "2", "--draft", model},
                                     "choose one");
        test::expect_cli_usage_error(base + QStringList{"--draft-max", "4"}, "--draft MODEL");
        test::expect_cli_usage_error(base + QStringList{"--lookup", "3", "--draft-p-min", "0.5"},
                                     "--draft MODEL");
        test::expect_cli_usage_error(base + QStringList{"--draft", model, "--draft-p-min", "1.5"},
                                     "from 0 to 1");
        test::expect_cli_usage_error(base + QStringList{"--draft", model, "--draft-p-min", "nan"},
                                     "--draft-p-min");
        test::expect_cli_error(
            base + QStringList{"--draft", QString::fromStdString(
                                              (test::data_dir() / "arch" / "llama.gguf").string())},
            "vocabulary differs");
    }

    void another_vocabulary_is_refused() {
        auto other = Model::load(test::data_dir() / "arch" / "llama.gguf");
        QVERIFY(other);
        auto session = Session::create(model_, {.n_ctx = 64});
        QVERIFY(session);
        const std::vector<int32_t> prompt = {1, 2, 3};
        auto stats = session->generate(
            prompt, greedy(),
            {.max_tokens = 4,
             .stop_strings = {},
             .speculation = {.mode = SpeculationMode::draft_model, .draft_model = *other}});
        QVERIFY(!stats);
        QCOMPARE(stats.error().code, ErrorCode::unsupported);
        QVERIFY2(stats.error().message.find("vocabulary differs from the model's at token 0") !=
                     std::string::npos,
                 stats.error().message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeModel)
#include "tst_speculative_model.moc"
