// The desktop app's C++ below the QML: list models (QAbstractItemModelTester), the
// conversation store against corrupted, partial and future-version files, sampling
// settings and presets, the prompt highlighter, and the engine worker on its own thread
// with the real default model (QSignalSpy through a queued relay).
#include "conversation_list_model.h"
#include "conversation_store.h"
#include "device_probe.h"
#include "engine_worker.h"
#include "gauge.h"
#include "message_list_model.h"
#include "sampling_settings.h"
#include "template_preview.h"
#include "test_support.h"
#include "worker_relay.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

namespace {

Conversation makeConversation(const QString& firstMessage, int minutesAgo = 0) {
    Conversation c = Conversation::create();
    c.updated = QDateTime::currentDateTimeUtc().addSecs(-60 * minutesAgo);
    c.messages = {{QStringLiteral("user"), firstMessage, {}, {}},
                  {QStringLiteral("assistant"),
                   QStringLiteral("Reply to ") + firstMessage,
                   {10, 5, 100.0, 40.0, 25.0, QStringLiteral("end of generation")},
                   {}}};
    c.systemPrompt = QStringLiteral("Be brief.");
    c.sampling = {{QStringLiteral("temperature"), 0.3}, {QStringLiteral("top_k"), 20}};
    return c;
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(file.write(bytes), bytes.size());
}

GenerationRequest request(quint64 id, const QString& prompt, int maxTokens) {
    GenerationRequest r;
    r.id = id;
    r.messages = {{QStringLiteral("user"), prompt}};
    r.sampling.temperature = 0; // greedy: the same reply every run
    r.sampling.seed = 1;
    r.maxTokens = maxTokens;
    return r;
}

} // namespace

class TestAppModels : public QObject {
    Q_OBJECT

private slots:
    void conversationListModel();
    void conversationFilter();
    void messageListModel();
    void splitBlocks();
    void conversationJsonRoundTrip();
    void storeSavesAndLoads();
    void storeSkipsBadFiles_data();
    void storeSkipsBadFiles();
    void storeNeverOverwritesUnreadableFile();
    void samplingPresets();
    void samplingClampsAndRoundTrips();
    void promptHighlight();
    void workerLoadFailure();
    void gaugeDevice();
    void workerGeneratesCancelsAndPreviews();
};

void TestAppModels::conversationListModel() {
    ConversationListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 0);
    const Conversation a = makeConversation(QStringLiteral("first"), 10);
    const Conversation b = makeConversation(QStringLiteral("second"), 5);
    model.setConversations({b, a});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0), ConversationListModel::TitleRole).toString(),
             QStringLiteral("second"));
    QCOMPARE(model.data(model.index(1), ConversationListModel::IdRole).toString(), a.id);
    QCOMPARE(model.data(model.index(1), ConversationListModel::MessageCountRole).toInt(), 2);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("is not valid")));
    QVERIFY(!model.data(model.index(5), ConversationListModel::TitleRole).isValid());

    // Updating the older one moves it to the top.
    Conversation edited = a;
    edited.title = QStringLiteral("Renamed");
    model.upsert(edited);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0), ConversationListModel::TitleRole).toString(),
             QStringLiteral("Renamed"));
    QCOMPARE(model.rowOf(b.id), 1);

    const Conversation c = Conversation::create();
    model.upsert(c);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(0), ConversationListModel::TitleRole).toString(),
             QStringLiteral("New chat"));
    QVERIFY(model.remove(a.id));
    QVERIFY(!model.remove(a.id));
    QCOMPARE(model.rowCount(), 2);
    QVERIFY(model.find(a.id) == nullptr);
    QVERIFY(model.find(b.id) != nullptr);
}

void TestAppModels::conversationFilter() {
    ConversationListModel model;
    ConversationFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter,
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setConversations({makeConversation(QStringLiteral("Dragons and castles")),
                            makeConversation(QStringLiteral("Baking bread")),
                            makeConversation(QStringLiteral("A dragon's diet"))});
    QCOMPARE(filter.count(), 3);
    QSignalSpy countChanged(&filter, &ConversationFilterModel::countChanged);
    filter.setSearchText(QStringLiteral("DRAGON"));
    QCOMPARE(filter.count(), 2);
    QVERIFY(countChanged.count() >= 1);
    filter.setSearchText(QStringLiteral("nothing like this"));
    QCOMPARE(filter.count(), 0);
    filter.setSearchText(QString());
    QCOMPARE(filter.count(), 3);
}

void TestAppModels::messageListModel() {
    MessageListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setMessages(makeConversation(QStringLiteral("hello")).messages);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0), MessageListModel::RoleRole).toString(),
             QStringLiteral("user"));
    QVERIFY(model.data(model.index(1), MessageListModel::StatsRole)
                .toString()
                .contains(QStringLiteral("40.0 tok/s")));

    model.append({QStringLiteral("assistant"), QString(), {}, {}}, true);
    QCOMPARE(model.streamingRow(), 2);
    QVERIFY(model.data(model.index(2), MessageListModel::StreamingRole).toBool());
    model.appendText(2, QString(), QStringLiteral("Hel"));
    model.appendText(2, QString(), QStringLiteral("lo"));
    model.appendText(7, QString(), QStringLiteral("ignored"));
    QCOMPARE(model.data(model.index(2), MessageListModel::TextRole).toString(),
             QStringLiteral("Hello"));
    QCOMPARE(changed.count(), 2);
    model.finishStreaming(2, QString(), QStringLiteral("Hello!"),
                          {3, 2, 0, 0, 0, QStringLiteral("cancelled")});
    QCOMPARE(model.streamingRow(), -1);
    QVERIFY(!model.data(model.index(2), MessageListModel::StreamingRole).toBool());
    QVERIFY(model.data(model.index(2), MessageListModel::StatsRole)
                .toString()
                .contains(QStringLiteral("cancelled")));
    const QVariantList blocks = model.data(model.index(2), MessageListModel::BlocksRole).toList();
    QCOMPARE(blocks.size(), 1);
    QCOMPARE(blocks[0].toMap()[QStringLiteral("text")].toString(), QStringLiteral("Hello!"));
    QCOMPARE(model.roleNames().value(MessageListModel::BlocksRole), QByteArray("blocks"));
    model.removeFrom(1);
    QCOMPARE(model.rowCount(), 1);
    model.removeFrom(3);
    QCOMPARE(model.rowCount(), 1);
}

void TestAppModels::splitBlocks() {
    const QVariantList blocks = MessageListModel::splitBlocks(
        QStringLiteral("Here:\n```python\nprint(1)\n```\nDone.\n```\nunclosed"));
    QCOMPARE(blocks.size(), 4);
    QCOMPARE(blocks[0].toMap()[QStringLiteral("text")].toString(), QStringLiteral("Here:"));
    QVERIFY(blocks[1].toMap()[QStringLiteral("code")].toBool());
    QCOMPARE(blocks[1].toMap()[QStringLiteral("language")].toString(), QStringLiteral("python"));
    QCOMPARE(blocks[1].toMap()[QStringLiteral("text")].toString(), QStringLiteral("print(1)"));
    QCOMPARE(blocks[2].toMap()[QStringLiteral("text")].toString(), QStringLiteral("Done."));
    QVERIFY(blocks[3].toMap()[QStringLiteral("code")].toBool()); // still streaming
    QCOMPARE(MessageListModel::splitBlocks(QString()).size(), 0);
}

void TestAppModels::conversationJsonRoundTrip() {
    Conversation original = makeConversation(QStringLiteral("naïve café ☕"));
    original.title = QStringLiteral("Unicode");
    original.templateName = QStringLiteral("chatml");
    Conversation back;
    QString error;
    QVERIFY2(conversationFromJson(conversationToJson(original), &back, &error), qPrintable(error));
    QCOMPARE(back.id, original.id);
    QCOMPARE(back.title, original.title);
    QCOMPARE(back.templateName, original.templateName);
    QCOMPARE(back.systemPrompt, original.systemPrompt);
    QCOMPARE(back.messages.size(), 2);
    QCOMPARE(back.messages[0].text, original.messages[0].text);
    QCOMPARE(back.messages[1].stats.decodeTokensPerSecond, 40.0);
    QCOMPARE(back.sampling.value(QStringLiteral("top_k")).toInt(), 20);
    QCOMPARE(back.updated, original.updated);
}

void TestAppModels::storeSavesAndLoads() {
    QTemporaryDir dir;
    ConversationStore store(dir.path());
    const Conversation older = makeConversation(QStringLiteral("older"), 30);
    const Conversation newer = makeConversation(QStringLiteral("newer"), 1);
    QVERIFY(store.save(older));
    QVERIFY(store.save(newer));
    // No temporary files left behind by the atomic writes.
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 2);
    const QList<Conversation> loaded = ConversationStore(dir.path()).loadAll();
    QCOMPARE(loaded.size(), 2);
    QCOMPARE(loaded[0].id, newer.id); // most recent first
    QVERIFY(store.remove(older.id));
    QCOMPARE(ConversationStore(dir.path()).loadAll().size(), 1);
}

void TestAppModels::storeSkipsBadFiles_data() {
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("expected");
    const Conversation good = makeConversation(QStringLiteral("partial"));
    const QByteArray full = QByteArray::fromStdString(conversationToJson(good).dump(2));
    QTest::newRow("garbage") << QByteArray("\x89PNG\r\n\x1a\n not json at all") << "not valid JSON";
    QTest::newRow("partial") << full.left(full.size() / 2) << "not valid JSON";
    QTest::newRow("empty") << QByteArray() << "empty";
    QTest::newRow("future version")
        << QByteArray(R"({"format":"hearth-conversation","version":99,"id":"x","messages":[]})")
        << "newer Hearth";
    QTest::newRow("not a conversation")
        << QByteArray(R"({"hello":"world"})") << "not a Hearth conversation";
    QTest::newRow("messages not a list")
        << QByteArray(R"({"format":"hearth-conversation","version":1,"id":"x","messages":{}})")
        << "\"messages\"";
    QTest::newRow("message without text")
        << QByteArray(
               R"({"format":"hearth-conversation","version":1,"id":"x","messages":[{"role":"user"}]})")
        << "message 0";
    QTest::newRow("stats of the wrong type")
        << QByteArray(R"({"format":"hearth-conversation","version":1,"id":"x","messages":)"
                      R"([{"role":"user","text":"a","stats":{"generated_tokens":"many"}}]})")
        << "message 0: its \"generated_tokens\" is not a whole number";
    QTest::newRow("id is a number")
        << QByteArray(R"({"format":"hearth-conversation","version":1,"id":7,"messages":[]})")
        << "\"id\"";
}

void TestAppModels::storeSkipsBadFiles() {
    QFETCH(QByteArray, contents);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    ConversationStore store(dir.path());
    const Conversation good = makeConversation(QStringLiteral("fine"));
    QVERIFY(store.save(good));
    const QString badPath = dir.filePath(QStringLiteral("x.json"));
    writeFile(badPath, contents);

    const QList<Conversation> loaded = store.loadAll();
    QCOMPARE(loaded.size(), 1);
    QCOMPARE(loaded[0].id, good.id);
    QCOMPARE(store.warnings().size(), 1);
    QVERIFY2(store.warnings()[0].startsWith(QStringLiteral("x.json: ")),
             qPrintable(store.warnings()[0]));
    QVERIFY2(store.warnings()[0].contains(expected), qPrintable(store.warnings()[0]));
    QCOMPARE(readAll(badPath), contents); // left as it was
}

void TestAppModels::storeNeverOverwritesUnreadableFile() {
    QTemporaryDir dir;
    ConversationStore store(dir.path());
    Conversation conversation = makeConversation(QStringLiteral("mine"));
    const QString path = dir.filePath(conversation.id + QStringLiteral(".json"));
    const QByteArray future = QByteArray(R"({"format":"hearth-conversation","version":2,"id":")") +
                              conversation.id.toUtf8() + R"(","messages":[],"new_feature":true})";
    writeFile(path, future);
    QCOMPARE(store.loadAll().size(), 0);
    QVERIFY(!store.save(conversation));
    QVERIFY(!store.remove(conversation.id));
    QCOMPARE(readAll(path), future);
    QVERIFY(store.warnings().last().contains(QStringLiteral("not saved")));
}

void TestAppModels::samplingPresets() {
    SamplingSettings settings;
    QSignalSpy changed(&settings, &SamplingSettings::changed);
    settings.applyPreset(QStringLiteral("Greedy"));
    QCOMPARE(changed.count(), 1); // one notification for the whole preset
    QCOMPARE(settings.temperature(), 0.0);
    QCOMPARE(settings.preset(), QStringLiteral("Greedy"));
    settings.applyPreset(QStringLiteral("Balanced"));
    QCOMPARE(settings.temperature(), 0.7);
    QCOMPARE(settings.topP(), 0.9);
    QCOMPARE(settings.topK(), 40);
    QCOMPARE(settings.repeatPenalty(), 1.1);
    QCOMPARE(settings.preset(), QStringLiteral("Balanced"));
    settings.setTemperature(0.71);
    QCOMPARE(settings.preset(), QString());
    for (const QString& name : SamplingSettings::presets()) {
        settings.applyPreset(name);
        QCOMPARE(settings.preset(), name);
        QVERIFY2(settings.toParams(1).validate().has_value(), qPrintable(name));
    }
    settings.applyPreset(QStringLiteral("No such preset"));
    QCOMPARE(settings.preset(), QStringLiteral("Precise"));
}

void TestAppModels::samplingClampsAndRoundTrips() {
    SamplingSettings settings;
    settings.setTemperature(9);
    settings.setTopP(0);
    settings.setTopK(-3);
    settings.setRepeatLastN(-7);
    settings.setMaxTokens(0);
    settings.setSeed(-5);
    QCOMPARE(settings.temperature(), 2.0);
    QVERIFY(settings.topP() > 0);
    QCOMPARE(settings.topK(), 0);
    QCOMPARE(settings.repeatLastN(), -1);
    QCOMPARE(settings.maxTokens(), 1);
    QCOMPARE(settings.seed(), 0.0);
    QVERIFY(settings.toParams(7).validate().has_value());
    QCOMPARE(settings.toParams(7).seed, 7u);

    settings.setSeed(123456789);
    settings.setRandomSeed(false);
    SamplingSettings copy;
    copy.fromVariantMap(settings.toVariantMap());
    QCOMPARE(copy.toVariantMap(), settings.toVariantMap());
    copy.fromVariantMap({{QStringLiteral("temperature"), 0.2}, {QStringLiteral("unknown"), 1}});
    QCOMPARE(copy.temperature(), 0.2);
    QCOMPARE(copy.seed(), 123456789.0);
}

void TestAppModels::promptHighlight() {
    const QString html = TemplatePreview::highlight(
        QStringLiteral("<|im_start|>user\n<b>&</b><|im_end|>"),
        {QStringLiteral("<|im_start|>"), QStringLiteral("<|im_end|>")}, QColor(Qt::red));
    QVERIFY(html.contains(QStringLiteral(
        "<span style=\"color:#ff0000; font-weight:bold\">&lt;|im_start|&gt;</span>")));
    QVERIFY(html.contains(QStringLiteral("&lt;b&gt;&amp;&lt;/b&gt;")));
    QCOMPARE(html.count(QStringLiteral("<span")), 2);
    QVERIFY(TemplatePreview::templates().size() >= 5);
}

void TestAppModels::gaugeDevice() {
    Gauge gauge;
    QVERIFY(!gauge.onGpu());
    QCOMPARE(gauge.deviceName(), QStringLiteral("CPU (system RAM)"));
    // On the CPU: this process's resident memory against the machine's RAM.
    QVERIFY(Gauge::readResidentBytes() > 1'000'000);
    QVERIFY(gauge.residentBytes() > 0);
    QVERIFY(gauge.deviceTotalBytes() > gauge.residentBytes());
    const double hostTotal = gauge.deviceTotalBytes();
    // A CUDA device: its memory, from the engine's device list (none here: zero, not RAM).
    QSignalSpy memory(&gauge, &Gauge::memoryChanged);
    gauge.setCudaDevice(0);
    QVERIFY(gauge.onGpu());
    QVERIFY(memory.count() >= 1);
    QVERIFY(gauge.deviceName().endsWith(QLatin1String("(GPU memory)")));
    // The figures come from DeviceProbe, off the GUI thread.
    QTRY_VERIFY_WITH_TIMEOUT(DeviceProbe::instance()->ready(), 60000);
    if (const auto devices = DeviceProbe::listCudaDevices(); !devices.gpus.isEmpty()) {
        QTRY_COMPARE(gauge.deviceTotalBytes(), double(devices.gpus.front().totalBytes));
        QTRY_VERIFY(gauge.residentBytes() > 0);
    } else {
        QCOMPARE(gauge.deviceTotalBytes(), 0.0);
        QCOMPARE(gauge.residentBytes(), 0.0);
    }
    gauge.setCudaDevice(-1);
    QCOMPARE(gauge.deviceTotalBytes(), hostTotal);
    QVERIFY(gauge.residentBytes() > 0);
}

void TestAppModels::workerLoadFailure() {
    EngineThread engine;
    WorkerRelay relay(engine.worker());
    QSignalSpy failed(&relay, &WorkerRelay::loadFailed);
    QSignalSpy generationFailed(&relay, &WorkerRelay::generationFailed);
    engine.post(
        [w = engine.worker()] { w->loadModel(QStringLiteral("/nonexistent/model.gguf"), 0, 1); });
    engine.post([w = engine.worker()] { w->generate(request(1, QStringLiteral("hi"), 4)); });
    QVERIFY(failed.wait(10000));
    QVERIFY(!failed[0][0].toString().isEmpty());
    QTRY_COMPARE(generationFailed.count(), 1);
    QCOMPARE(generationFailed[0][1].toString(), QStringLiteral("no model is loaded"));
}

void TestAppModels::workerGeneratesCancelsAndPreviews() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineThread engine;
    EngineWorker* worker = engine.worker();
    WorkerRelay relay(worker);
    QSignalSpy progress(&relay, &WorkerRelay::loadProgress);
    QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
    QSignalSpy tokens(&relay, &WorkerRelay::tokensArrived);
    QSignalSpy finished(&relay, &WorkerRelay::generationFinished);
    QSignalSpy previews(&relay, &WorkerRelay::previewReady);

    const QString path = QString::fromStdString(modelPath.string());
    engine.post([worker, path] { worker->loadModel(path, 1024, 0); });
    QVERIFY(loaded.wait(120000));
    const auto summary = loaded[0][0].value<ModelSummary>();
    QCOMPARE(summary.contextLength, 1024);
    QCOMPARE(summary.architecture, QStringLiteral("llama"));
    QVERIFY(summary.weightsBytes > 50'000'000);
    QVERIFY(summary.kvBytes > 0);
    QVERIFY(!progress.isEmpty());
    QCOMPARE(progress.last()[0].toDouble(), 1.0);

    // A whole reply: the streamed pieces add up to the final text, coalesced.
    QElapsedTimer clock;
    clock.start();
    engine.post([worker] {
        worker->generate(request(1, QStringLiteral("What is the capital of France?"), 48));
    });
    QVERIFY(finished.wait(120000));
    const double elapsedMs = double(clock.elapsed());
    const auto result = finished[0][1].value<GenerationResult>();
    QCOMPARE(finished[0][0].toULongLong(), 1u);
    QVERIFY(result.generatedTokens > 0);
    QVERIFY(result.decodeTokensPerSecond > 0);
    QVERIFY(result.kvUsed > result.promptTokens);
    QVERIFY2(result.text.contains(QStringLiteral("Paris")), qPrintable(result.text));
    QString streamed;
    for (const QList<QVariant>& args : std::as_const(tokens)) {
        QCOMPARE(args[0].toULongLong(), 1u);
        QCOMPARE(args[1].toString(), QString()); // the default model does not reason
        streamed += args[2].toString();
    }
    QCOMPARE(streamed, result.text);
    QVERIFY(tokens.count() >= 1);
    // At most one update per flush interval (plus the final flush).
    QVERIFY2(tokens.count() <= int(elapsedMs / EngineWorker::kFlushIntervalMs) + 2,
             qPrintable(QStringLiteral("%1 updates in %2 ms").arg(tokens.count()).arg(elapsedMs)));
    QVERIFY(tokens.count() <= result.generatedTokens);

    // Cancel mid-way, from this thread, while the worker decodes.
    tokens.clear();
    finished.clear();
    engine.post([worker] {
        worker->generate(request(2, QStringLiteral("Write a long story about a dragon."), 400));
    });
    QVERIFY(tokens.wait(60000));
    worker->cancelGeneration(2);
    QVERIFY(finished.wait(60000));
    const auto cancelled = finished[0][1].value<GenerationResult>();
    QCOMPARE(cancelled.stopReason, QStringLiteral("cancelled"));
    QVERIFY(cancelled.generatedTokens < 400);

    // A request cancelled before it starts finishes at once, with nothing generated.
    finished.clear();
    worker->cancelGeneration(3);
    engine.post([worker] { worker->generate(request(3, QStringLiteral("Hello"), 50)); });
    QVERIFY(finished.wait(30000));
    QCOMPARE(finished[0][1].value<GenerationResult>().generatedTokens, 0);

    // The prompt preview: the model's own template (ChatML) with its special tokens.
    engine.post([worker] {
        worker->renderPreview(9,
                              {{QStringLiteral("system"), QStringLiteral("Be brief.")},
                               {QStringLiteral("user"), QStringLiteral("Hi")}},
                              QString());
    });
    QVERIFY(previews.wait(30000));
    const auto preview = previews[0][0].value<PromptPreview>();
    QCOMPARE(preview.id, 9u);
    QVERIFY2(preview.error.isEmpty(), qPrintable(preview.error));
    QVERIFY(preview.text.contains(QStringLiteral("<|im_start|>user\nHi<|im_end|>")));
    QVERIFY(preview.text.endsWith(QStringLiteral("<|im_start|>assistant\n")));
    QVERIFY(preview.specialTokens.contains(QStringLiteral("<|im_start|>")));
    QVERIFY(preview.tokenCount > 5);
    // Shutdown with a generation in flight: cancel, quit, wait (the destructor) is prompt.
    engine.post(
        [worker] { worker->generate(request(4, QStringLiteral("Count to one thousand."), 2000)); });
}

QTEST_GUILESS_MAIN(TestAppModels)
#include "tst_app_models.moc"
