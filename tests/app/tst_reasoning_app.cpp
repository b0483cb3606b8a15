// Reasoning replies in the app: a conversation file keeps a reply's reasoning and its thinking
// statistics (older files, without them, still load; hostile values are refused by name); the
// message model streams reasoning and answer apart and says while it is thinking; and the
// worker, on the real default model given a reasoning template, splits the reply, counts the
// thinking's tokens, offers the template's switch and passes earlier reasoning back to it.
#include "compare_controller.h"
#include "conversation.h"
#include "conversation_store.h"
#include "engine_worker.h"
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "message_list_model.h"
#include "test_support.h"
#include "worker_relay.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

namespace {

Message reasoningReply() {
    Message reply{QStringLiteral("assistant"),
                  QStringLiteral("4."),
                  {},
                  {},
                  QStringLiteral("Two plus two is four.")};
    reply.stats.promptTokens = 12;
    reply.stats.generatedTokens = 40;
    reply.stats.decodeTokensPerSecond = 30;
    reply.stats.ttftMs = 80;
    reply.stats.stopReason = QStringLiteral("end of generation");
    reply.stats.reasoningTokens = 31;
    reply.stats.reasoningMs = 1234;
    reply.stats.reasoningTokensPerSecond = 24.3;
    reply.stats.answerTokensPerSecond = 35.5;
    return reply;
}

QString loadError(const nlohmann::ordered_json& file) {
    Conversation conversation;
    QString error;
    conversationFromJson(file, &conversation, &error);
    return error;
}

} // namespace

class TestReasoningApp : public QObject {
    Q_OBJECT

private slots:
    void conversationKeepsReasoning() {
        Conversation conversation = Conversation::create();
        conversation.messages = {{QStringLiteral("user"), QStringLiteral("2 + 2?"), {}, {}},
                                 reasoningReply()};
        const auto json = conversationToJson(conversation);
        QCOMPARE(QString::fromStdString(json["messages"][1]["reasoning"].get<std::string>()),
                 QStringLiteral("Two plus two is four."));
        QVERIFY(!json["messages"][0].contains("reasoning"));
        Conversation back;
        QString error;
        QVERIFY2(conversationFromJson(json, &back, &error), qPrintable(error));
        const Message& reply = back.messages.at(1);
        QCOMPARE(reply.reasoning, QStringLiteral("Two plus two is four."));
        QCOMPARE(reply.text, QStringLiteral("4."));
        QCOMPARE(reply.stats.reasoningTokens, 31);
        QCOMPARE(reply.stats.reasoningMs, 1234.0);
        QCOMPARE(reply.stats.answerTokensPerSecond, 35.5);
        QCOMPARE(reply.stats.thinkingSummary(),
                 QStringLiteral("Thought for 1.2 s · 31 tokens · 24.3 tok/s"));
        // The answer's figures, apart from the thinking's.
        QVERIFY2(reply.stats.summary().startsWith(QStringLiteral("answer 9 tokens · 35.5 tok/s")),
                 qPrintable(reply.stats.summary()));
    }

    void filesWithoutReasoningStillLoad() {
        // A reply saved before reasoning existed: no "reasoning", no thinking statistics.
        const auto file = nlohmann::ordered_json::parse(R"({
            "format": "hearth-conversation", "version": 1, "id": "old", "title": "",
            "created": "2026-01-01T00:00:00.000Z", "updated": "2026-01-01T00:00:00.000Z",
            "model": "", "template": "", "system_prompt": "", "sampling": {},
            "messages": [{"role": "user", "text": "hi"},
                         {"role": "assistant", "text": "hello",
                          "stats": {"generated_tokens": 3, "decode_tokens_per_second": 9}}]})");
        Conversation conversation;
        QString error;
        QVERIFY2(conversationFromJson(file, &conversation, &error), qPrintable(error));
        QCOMPARE(conversation.messages.at(1).reasoning, QString());
        QCOMPARE(conversation.messages.at(1).stats.reasoningTokens, 0);
        QCOMPARE(conversation.messages.at(1).stats.thinkingSummary(), QString());
        QCOMPARE(conversation.messages.at(1).stats.summary(),
                 QStringLiteral("3 tokens · 9.0 tok/s"));
    }

    void hostileReasoningIsRefused_data() {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not text") << QByteArray(
                                         R"({"role":"assistant","text":"a","reasoning":[1]})")
                                  << "has a \"reasoning\" that is not";
        QTest::newRow("on a user message")
            << QByteArray(R"({"role":"user","text":"a","reasoning":"hidden"})")
            << "has a \"reasoning\" that is not";
        QTest::newRow("more thinking tokens than tokens")
            << QByteArray(R"({"role":"assistant","text":"a","stats":{"generated_tokens":2,)"
                          R"("reasoning_tokens":3}})")
            << "\"reasoning_tokens\" is more than";
        QTest::newRow("negative thinking time")
            << QByteArray(R"({"role":"assistant","text":"a","stats":{"reasoning_ms":-1}})")
            << "\"reasoning_ms\" is not a number of 0 or more";
    }

    void hostileReasoningIsRefused() {
        QFETCH(QByteArray, message);
        QFETCH(QString, expected);
        auto file = conversationToJson(Conversation::create());
        file["messages"] =
            nlohmann::ordered_json::array({nlohmann::ordered_json::parse(message.toStdString())});
        const QString error = loadError(file);
        QVERIFY2(error.contains(expected), qPrintable(error));
    }

    void modelStreamsThinkingThenAnswer() {
        MessageListModel model;
        model.append({QStringLiteral("assistant"), QString(), {}, {}}, true);
        const QModelIndex row = model.index(0);
        // Before any text: waiting, not thinking (the section has nothing to show).
        QCOMPARE(model.data(row, MessageListModel::ThinkingRole).toBool(), false);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.appendText(0, QStringLiteral("Two plus"), QString());
        QCOMPARE(model.data(row, MessageListModel::ThinkingRole).toBool(), true);
        QVERIFY(changed.last()[2].value<QList<int>>().contains(MessageListModel::ThinkingRole));
        model.appendText(0, QStringLiteral(" two."), QString());
        QCOMPARE(model.data(row, MessageListModel::ReasoningRole).toString(),
                 QStringLiteral("Two plus two."));
        QVERIFY(!changed.last()[2].value<QList<int>>().contains(MessageListModel::TextRole));
        model.appendText(0, QString(), QStringLiteral("4"));
        QCOMPARE(model.data(row, MessageListModel::ThinkingRole).toBool(), false);
        QCOMPARE(model.data(row, MessageListModel::TextRole).toString(), QStringLiteral("4"));
        const Message reply = reasoningReply();
        model.finishStreaming(0, reply.reasoning, reply.text, reply.stats);
        QCOMPARE(model.data(row, MessageListModel::ReasoningRole).toString(), reply.reasoning);
        QCOMPARE(model.data(row, MessageListModel::ThinkingStatsRole).toString(),
                 reply.stats.thinkingSummary());
        QCOMPARE(model.roleNames().value(MessageListModel::ReasoningRole), QByteArray("reasoning"));
    }

    void workerSplitsAReasoningReply() {
        HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
        // The default model with a reasoning template of its own (Qwen3's switch, DeepSeek-R1's
        // opened <think>): SmolLM2 never closes it, so the reply is all reasoning unless the
        // switch is off.
        QTemporaryDir dir;
        auto file = hearth::GgufFile::open(modelPath);
        QVERIFY2(file, file ? "" : file.error().message.c_str());
        auto metadata = file->metadata();
        hearth::GgufValue chat_template;
        chat_template.type = hearth::GgufType::string;
        chat_template.data =
            hearth::test::read_text(hearth::test::data_dir() / "reasoning" / "think-switch.jinja");
        hearth::test::set_key(metadata, "tokenizer.chat_template", chat_template);
        const auto path = std::filesystem::path(dir.path().toStdString()) / "thinking.gguf";
        hearth::test::write_file(
            path, hearth::test::serialize_gguf(metadata, hearth::test::tensor_records(*file)));

        EngineThread engine;
        EngineWorker* worker = engine.worker();
        WorkerRelay relay(worker);
        QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
        QSignalSpy tokens(&relay, &WorkerRelay::tokensArrived);
        QSignalSpy finished(&relay, &WorkerRelay::generationFinished);
        QSignalSpy previews(&relay, &WorkerRelay::previewReady);
        const QString qpath = QString::fromStdString(path.string());
        engine.post([worker, qpath] { worker->loadModel(qpath, 512, 2); });
        QVERIFY(loaded.wait(120000));
        QCOMPARE(loaded[0][0].value<ModelSummary>().thinkingChoices,
                 (QStringList{QStringLiteral("on"), QStringLiteral("off")}));

        GenerationRequest request;
        request.id = 1;
        request.messages = {{QStringLiteral("user"), QStringLiteral("Say hello.")}};
        request.sampling.temperature = 0;
        request.maxTokens = 12;
        engine.post([worker, request] { worker->generate(request); });
        QVERIFY(finished.wait(120000));
        auto result = finished[0][1].value<GenerationResult>();
        QVERIFY(!result.reasoning.isEmpty());
        QCOMPARE(result.text, QString());
        QCOMPARE(result.generatedTokens, 12);
        QCOMPARE(result.reasoningTokens, 12);
        QVERIFY(result.reasoningTokensPerSecond > 0);
        // What streamed is what the result holds.
        QString streamedReasoning;
        QString streamedAnswer;
        for (const auto& args : tokens) {
            streamedReasoning += args[1].toString();
            streamedAnswer += args[2].toString();
        }
        QCOMPARE(streamedReasoning, result.reasoning);
        QCOMPARE(streamedAnswer, QString());
        QCOMPARE(tokens.last()[4].toInt(), 12);

        // The switch off: the template closes the reasoning in the prompt; all answer.
        tokens.clear();
        finished.clear();
        request.id = 2;
        request.thinking = QStringLiteral("off");
        engine.post([worker, request] { worker->generate(request); });
        QVERIFY(finished.wait(120000));
        result = finished[0][1].value<GenerationResult>();
        QCOMPARE(result.reasoning, QString());
        QVERIFY(!result.text.isEmpty());
        QCOMPARE(result.reasoningTokens, 0);

        // Earlier turns' reasoning reaches the template as reasoning_content.
        const QList<ChatTurn> turns{
            {QStringLiteral("user"), QStringLiteral("2 + 2?")},
            {QStringLiteral("assistant"), QStringLiteral("4."), QStringLiteral("Simple sum.")},
            {QStringLiteral("user"), QStringLiteral("And 3 + 3?")}};
        engine.post([worker, turns] { worker->renderPreview(7, turns, QString()); });
        QVERIFY(previews.wait(60000));
        const auto preview = previews[0][0].value<PromptPreview>();
        QVERIFY2(preview.text.contains(
                     QStringLiteral("<|im_start|>assistant\n<think>\nSimple sum.\n</think>\n\n4.")),
                 qPrintable(preview.text));
        QVERIFY(preview.text.endsWith(QStringLiteral("<|im_start|>assistant\n<think>\n")));
        // The preview is the prompt sent: with the switch off, the template closes the
        // reasoning; a choice this template does not offer leaves its default.
        previews.clear();
        engine.post([worker, turns] { worker->renderPreview(8, turns, QString(), "off"); });
        QVERIFY(previews.wait(60000));
        QVERIFY(previews[0][0].value<PromptPreview>().text.endsWith(
            QStringLiteral("<think>\n\n</think>\n\n")));
        previews.clear();
        engine.post([worker, turns] { worker->renderPreview(9, turns, QString(), "high"); });
        QVERIFY(previews.wait(60000));
        QCOMPARE(previews[0][0].value<PromptPreview>().text, preview.text);

        // Compare's columns split their replies the same way: a column of the model's own
        // template has reasoning (shown collapsed), a ChatML column none.
        CompareController compare;
        compare.setEngine(worker);
        QSignalSpy compared(&compare, &CompareController::finished);
        for (int i = 0; i < 2; ++i) {
            QVERIFY(compare.setColumnValue(i, "temperature", 0.0));
            QVERIFY(compare.setColumnValue(i, "maxTokens", 8));
        }
        QVERIFY(compare.setColumnValue(1, "templateName", "chatml"));
        QVERIFY2(compare.send("Say hello."), qPrintable(compare.error()));
        QVERIFY(compared.wait(120000));
        QVERIFY2(compare.error().isEmpty(), qPrintable(compare.error()));
        const QModelIndex own = compare.columns()->index(0);
        const QModelIndex chatml = compare.columns()->index(1);
        QVERIFY(!own.data(CompareColumnModel::ReplyReasoningRole).toString().isEmpty());
        QCOMPARE(own.data(CompareColumnModel::ReplyRole).toString(), QString());
        QCOMPARE(own.data(CompareColumnModel::ReasoningTokensRole).toInt(), 8);
        QVERIFY(own.data(CompareColumnModel::ReplyNoteRole)
                    .toString()
                    .contains(QStringLiteral("still thinking")));
        QCOMPARE(chatml.data(CompareColumnModel::ReplyReasoningRole).toString(), QString());
        QVERIFY(!chatml.data(CompareColumnModel::ReplyRole).toString().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestReasoningApp)
#include "tst_reasoning_app.moc"
