// The Models panel's KV cache type (issue 16: the app always used an F16 cache): the fit
// badge's plan takes it, the setting persists and refuses unknown names, the chat's session
// and compare's get it (a model that cannot take a Q8_0 cache gets F16, said in the note), and
// the Gauge shows the cache's size and type. The sessions are checked on the default model.
#include "chat_controller.h"
#include "compare_controller.h"
#include "compare_test_support.h"
#include "engine_worker.h"
#include "fit_badge.h"
#include "gauge.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "isolated_profile.h"
#include "model_library.h"
#include "test_support.h"

#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

namespace {

hearth::ModelInfo infoOf(const std::filesystem::path& path) {
    auto gguf = hearth::GgufFile::open(path);
    if (!gguf) {
        qFatal("%s", gguf.error().message.c_str());
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        qFatal("%s", info.error().message.c_str());
    }
    return *info;
}

QString bytes(uint64_t n) {
    return QString::fromStdString(hearth::format_bytes(double(n)));
}

// Loads `path` on `engine` at `contextLength` tokens with `kvType`; the summary, or nullopt when it
// failed.
std::optional<ModelSummary> load(EngineThread& engine, const QString& path, const QString& kvType,
                                 int contextLength = 512) {
    QObject context;
    std::optional<ModelSummary> summary;
    QString failure;
    QObject::connect(
        engine.worker(), &EngineWorker::modelLoaded, &context,
        [&](const ModelSummary& s) { summary = s; }, Qt::QueuedConnection);
    QObject::connect(
        engine.worker(), &EngineWorker::loadFailed, &context,
        [&](const QString& m) { failure = m; }, Qt::QueuedConnection);
    engine.post([worker = engine.worker(), path, kvType, contextLength] {
        worker->loadModel(path, contextLength, 2, QStringLiteral("cpu"), QStringLiteral("auto"),
                          kvType);
    });
    if (!QTest::qWaitFor([&] { return summary || !failure.isEmpty(); }, 120000)) {
        qWarning("the model did not load within 120 s");
    }
    if (!failure.isEmpty()) {
        qWarning("load failed: %s", qPrintable(failure));
    }
    return summary;
}

} // namespace

class TestKvCacheType : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void fitBadgeTakesTheType();
    void libraryKeepsTheSetting();
    void sessionGetsTheTypeAndTheGaugeShowsIt();
    void modelThatCannotTakeQ8GetsF16();
    void controllerPassesTheSetting();
    void compareColumnsGetTheType();

private:
    QTemporaryDir m_root;
};

void TestKvCacheType::initTestCase() {
    QVERIFY(m_root.isValid());
    // The default model's path before HOME moves (it may live under the real home).
    qputenv("HEARTH_TEST_MODEL",
            QFile::encodeName(QString::fromStdString(hearth::test::default_model_path().string())));
    useIsolatedProfile(m_root.path(), QStringLiteral("tst_kv_cache_type"));
}

void TestKvCacheType::fitBadgeTakesTheType() {
    const hearth::ModelInfo info = infoOf(hearth::test::data_dir() / "arch" / "llama.gguf");
    FitTarget target;
    target.nCtx = 256;
    target.hostAvailableBytes = uint64_t(1) << 34;
    const FitBadge f16 = assessFit(info, target);
    target.kvType = hearth::KvCacheType::q8_0;
    const FitBadge q8 = assessFit(info, target);
    // 2 layers × 2 KV heads × (16 + 16) × 256 tokens: 2 bytes a value, or 34 per 32.
    const uint64_t f16Kv = 2 * 2 * 32 * 256 * 2;
    const uint64_t q8Kv = 2 * 2 * 32 * 256 * 34 / 32;
    QVERIFY2(f16.detail.contains(QStringLiteral("KV cache %1 F16").arg(bytes(f16Kv))),
             qPrintable(f16.detail));
    QVERIFY2(q8.detail.contains(QStringLiteral("KV cache %1 Q8_0").arg(bytes(q8Kv))),
             qPrintable(q8.detail));
    const auto total = [&](hearth::KvCacheType type) {
        return hearth::plan_memory(info, {.n_ctx = 256, .kv_type = type}).total_bytes;
    };
    QVERIFY(q8.detail.startsWith(
        QStringLiteral("needs %1").arg(bytes(total(hearth::KvCacheType::q8_0)))));
    QCOMPARE(total(hearth::KvCacheType::f16) - total(hearth::KvCacheType::q8_0), f16Kv - q8Kv);
}

void TestKvCacheType::libraryKeepsTheSetting() {
    const hearth::ModelInfo info = infoOf(hearth::test::data_dir() / "arch" / "llama.gguf");
    QSettings().remove("models/kvType");
    {
        ModelLibrary library;
        QCOMPARE(library.kvType(), QStringLiteral("f16"));
        QVERIFY(library.kvTypeNote().isEmpty());
        const QString f16Detail = library.assessFit(info).detail;
        QSignalSpy changed(&library, &ModelLibrary::settingsChanged);
        library.setKvType(QStringLiteral("q4_0")); // not a cache type: ignored
        QCOMPARE(changed.count(), 0);
        library.setKvType(QStringLiteral("q8_0"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(library.kvType(), QStringLiteral("q8_0"));
        QVERIFY(library.kvTypeNote().contains(QStringLiteral("half the memory")));
        QVERIFY(!library.usesGpu()); // Q8_0 runs on the CPU
        const QString q8Detail = library.assessFit(info).detail;
        QVERIFY2(q8Detail.contains(QStringLiteral("Q8_0")) && q8Detail != f16Detail,
                 qPrintable(q8Detail));
    }
    QCOMPARE(QSettings().value("models/kvType").toString(), QStringLiteral("q8_0"));
    QCOMPARE(ModelLibrary().kvType(), QStringLiteral("q8_0")); // read back on the next start
    QSettings().setValue("models/kvType", "q2_k");             // hand-edited
    QCOMPARE(ModelLibrary().kvType(), QStringLiteral("f16"));
    QSettings().remove("models/kvType");
}

void TestKvCacheType::sessionGetsTheTypeAndTheGaugeShowsIt() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    const QString path = QString::fromStdString(modelPath.string());
    EngineThread engine;
    const auto f16 = load(engine, path, QStringLiteral("f16"));
    QVERIFY(f16);
    QCOMPARE(f16->kvType, QStringLiteral("f16"));
    QCOMPARE(engine.worker()->sessionOptions().kv_type, hearth::KvCacheType::f16);
    const auto q8 = load(engine, path, QStringLiteral("q8_0"));
    QVERIFY(q8);
    QCOMPARE(q8->kvType, QStringLiteral("q8_0"));
    QCOMPARE(engine.worker()->sessionOptions().kv_type, hearth::KvCacheType::q8_0);
    // The cache's memory: 34 bytes per 32 values instead of 64.
    QCOMPARE(q8->kvBytes, f16->kvBytes * 34 / 64);
    QVERIFY(q8->planTotalBytes < f16->planTotalBytes);

    // The session generates with it.
    QObject context;
    std::optional<GenerationResult> result;
    QObject::connect(
        engine.worker(), &EngineWorker::generationFinished, &context,
        [&](quint64, const GenerationResult& r) { result = r; }, Qt::QueuedConnection);
    GenerationRequest request;
    request.id = 1;
    request.messages = {{QStringLiteral("user"), QStringLiteral("What is the capital of France?")}};
    request.sampling.temperature = 0;
    request.maxTokens = 12;
    engine.post([worker = engine.worker(), request] { worker->generate(request); });
    QVERIFY(QTest::qWaitFor([&] { return result.has_value(); }, 120000));
    QVERIFY2(result->text.contains(QStringLiteral("Paris")), qPrintable(result->text));

    Gauge gauge;
    QSignalSpy changed(&gauge, &Gauge::modelChanged);
    gauge.setModel(*f16);
    QCOMPARE(gauge.kvType(), QStringLiteral("F16"));
    QCOMPARE(gauge.kvBytes(), double(f16->kvBytes));
    gauge.setModel(*q8);
    QCOMPARE(gauge.kvType(), QStringLiteral("Q8_0"));
    QCOMPARE(gauge.kvBytes(), double(q8->kvBytes));
    QCOMPARE(changed.count(), 2);
    gauge.clearModel();
    QVERIFY(gauge.kvType().isEmpty());
}

void TestKvCacheType::modelThatCannotTakeQ8GetsF16() {
    // The tiny llama's heads are 16 wide; a Q8_0 cache needs multiples of 32.
    const QString path =
        QString::fromStdString((hearth::test::data_dir() / "arch" / "llama.gguf").string());
    EngineThread engine;
    const auto summary = load(engine, path, QStringLiteral("q8_0"), 128);
    QVERIFY(summary);
    QCOMPARE(summary->kvType, QStringLiteral("f16"));
    QVERIFY2(summary->deviceNote.contains(QStringLiteral("KV cache F16")) &&
                 summary->deviceNote.contains(QStringLiteral("multiples of 32")),
             qPrintable(summary->deviceNote));
}

void TestKvCacheType::controllerPassesTheSetting() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController controller;
    controller.library()->setKvType(QStringLiteral("q8_0"));
    controller.library()->setDevice(QStringLiteral("cpu"));
    controller.loadModel(QString::fromStdString(modelPath.string()));
    QTRY_VERIFY_WITH_TIMEOUT(controller.modelState() == ChatController::ModelState::Ready, 120000);
    auto* worker = qobject_cast<EngineWorker*>(controller.engineWorker());
    QCOMPARE(worker->sessionOptions().kv_type, hearth::KvCacheType::q8_0);
    QCOMPARE(controller.gauge()->kvType(), QStringLiteral("Q8_0"));
    const double q8Bytes = controller.gauge()->kvBytes();
    controller.library()->setKvType(QStringLiteral("f16"));
    controller.loadModel(QString::fromStdString(modelPath.string()));
    QTRY_VERIFY_WITH_TIMEOUT(controller.modelState() == ChatController::ModelState::Ready &&
                                 controller.gauge()->kvType() == QLatin1String("F16"),
                             120000);
    QCOMPARE(q8Bytes, controller.gauge()->kvBytes() * 34 / 64);
    QSettings().remove("models/kvType");
    QSettings().remove("models/device");
}

void TestKvCacheType::compareColumnsGetTheType() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineThread engine;
    QVERIFY(load(engine, QString::fromStdString(modelPath.string()), QStringLiteral("q8_0")));
    CompareController controller;
    controller.setEngine(engine.worker());
    QSignalSpy finished(&controller, &CompareController::finished);
    for (int i = 0; i < 2; ++i) {
        QVERIFY(controller.setColumnValue(i, "maxTokens", 4));
    }
    QVERIFY(controller.send(QStringLiteral("Hello")));
    QVERIFY(finished.wait(120000));
    QVERIFY2(controller.error().isEmpty(), qPrintable(controller.error()));
    QVERIFY2(controller.summaryText().contains(QStringLiteral("KV cache Q8_0")),
             qPrintable(controller.summaryText()));
    QVERIFY(!hearth::test::compare::reply(controller, 0).isEmpty());

    // A column on a model that cannot take a Q8_0 cache runs with F16.
    QVERIFY(controller.setColumnValue(1, "modelPath", hearth::test::compare::secondModelPath()));
    QVERIFY(controller.send(QStringLiteral("Hello again")));
    QVERIFY(finished.wait(120000));
    QVERIFY2(controller.summaryText().contains(QStringLiteral("KV cache Q8_0, F16")),
             qPrintable(controller.summaryText()));
    QVERIFY(controller.columns()
                ->index(1)
                .data(CompareColumnModel::ColumnErrorRole)
                .toString()
                .isEmpty());
}

QTEST_GUILESS_MAIN(TestKvCacheType)
#include "tst_kv_cache_type.moc"
