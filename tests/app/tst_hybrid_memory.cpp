// A hybrid model (qwen35, tests/data/arch/qwen35.gguf) in the app: the worker's summary, the
// Gauge and the fit badge show its recurrent state as its own line (fixed whatever the
// context) beside a KV cache of the attention layers only; a GPU target is judged on the CPU,
// where the model runs; and the chat generates with it, a second turn resuming its state.
#include "engine_worker.h"
#include "fit_badge.h"
#include "gauge.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "test_support.h"

#include <QSignalSpy>
#include <QtTest>

namespace {

const QString kModel =
    QString::fromStdString((hearth::test::data_dir() / "arch" / "qwen35.gguf").string());

hearth::ModelInfo info() {
    auto gguf = hearth::GgufFile::open(kModel.toStdString());
    if (!gguf) {
        qFatal("%s", gguf.error().message.c_str());
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        qFatal("%s", info.error().message.c_str());
    }
    return *info;
}

std::optional<ModelSummary> load(EngineThread& engine, int contextLength) {
    QObject context;
    std::optional<ModelSummary> summary;
    QString failure;
    QObject::connect(
        engine.worker(), &EngineWorker::modelLoaded, &context,
        [&](const ModelSummary& s) { summary = s; }, Qt::QueuedConnection);
    QObject::connect(
        engine.worker(), &EngineWorker::loadFailed, &context,
        [&](const QString& m) { failure = m; }, Qt::QueuedConnection);
    engine.post([worker = engine.worker(), contextLength] {
        worker->loadModel(kModel, contextLength, 2, QStringLiteral("auto"), QStringLiteral("auto"),
                          QStringLiteral("f16"));
    });
    if (!QTest::qWaitFor([&] { return summary || !failure.isEmpty(); }, 60000) ||
        !failure.isEmpty()) {
        qWarning("load failed: %s", qPrintable(failure));
    }
    return summary;
}

std::optional<GenerationResult> generate(EngineThread& engine, const QList<ChatTurn>& messages,
                                         quint64 id) {
    QObject context;
    std::optional<GenerationResult> result;
    QObject::connect(
        engine.worker(), &EngineWorker::generationFinished, &context,
        [&](quint64, const GenerationResult& r) { result = r; }, Qt::QueuedConnection);
    GenerationRequest request;
    request.id = id;
    request.messages = messages;
    request.sampling.temperature = 0;
    request.maxTokens = 6;
    request.templateName = QStringLiteral("chatml"); // the test file has none
    engine.post([worker = engine.worker(), request] { worker->generate(request); });
    if (!QTest::qWaitFor([&] { return result.has_value(); }, 60000)) {
        qWarning("no reply within 60 s");
    }
    return result;
}

} // namespace

class TestHybridMemory : public QObject {
    Q_OBJECT

private slots:
    void summaryAndGaugeShowTheRecurrentState() {
        const hearth::ModelInfo model = info();
        EngineThread engine;
        const auto summary = load(engine, 128);
        QVERIFY(summary);
        const hearth::MemoryPlan plan = hearth::plan_memory(model, {.n_ctx = 128});
        QVERIFY(plan.recurrent_bytes > 0);
        QCOMPARE(summary->recurrentBytes, qint64(plan.recurrent_bytes));
        QCOMPARE(summary->kvBytes, qint64(plan.kv_bytes));
        QCOMPARE(summary->planTotalBytes, qint64(plan.total_bytes));
        QCOMPARE(summary->cudaDevice, -1); // "auto" runs it on the CPU

        // Fixed whatever the context; the KV cache (attention layers only) grows with it.
        const auto longer = load(engine, 256);
        QVERIFY(longer);
        QCOMPARE(longer->recurrentBytes, summary->recurrentBytes);
        QCOMPARE(longer->kvBytes, 2 * summary->kvBytes);

        Gauge gauge;
        gauge.setModel(*summary);
        QCOMPARE(gauge.recurrentBytes(), double(plan.recurrent_bytes));
        QCOMPARE(gauge.planBytes(), double(plan.weights_bytes + plan.kv_bytes +
                                           plan.recurrent_bytes + plan.scratch_bytes));
        gauge.clearModel();
        QCOMPARE(gauge.recurrentBytes(), 0.0);

        // The chat generates with it; the second turn resumes the state instead of starting over.
        const QList<ChatTurn> first = {{QStringLiteral("user"), QStringLiteral("hello")}};
        const auto one = generate(engine, first, 1);
        QVERIFY(one);
        QVERIFY(one->generatedTokens > 0);
        QList<ChatTurn> second = first;
        second.append({QStringLiteral("assistant"), one->text});
        second.append({QStringLiteral("user"), QStringLiteral("and again")});
        const auto two = generate(engine, second, 2);
        QVERIFY(two);
        QVERIFY(two->generatedTokens > 0);
        QVERIFY2(two->reusedTokens > 0, qPrintable(QString::number(two->reusedTokens)));
    }

    void fitBadgeNamesTheRecurrentState() {
        const hearth::ModelInfo model = info();
        const hearth::MemoryPlan plan = hearth::plan_memory(model, {.n_ctx = 128});
        const QString state =
            QString::fromStdString(hearth::format_bytes(double(plan.recurrent_bytes)));
        const FitBadge cpu = assessFit(model, {.nCtx = 128,
                                               .kvType = hearth::KvCacheType::f16,
                                               .gpu = false,
                                               .gpuName = {},
                                               .gpuFreeBytes = 0,
                                               .gpuLayers = hearth::kAutoGpuLayers,
                                               .hostAvailableBytes = 8ull << 30});
        QCOMPARE(cpu.fit, QStringLiteral("fits"));
        QVERIFY2(cpu.detail.contains(QStringLiteral("recurrent state ") + state),
                 qPrintable(cpu.detail));
        // A GPU target: the model would run on the CPU, and is judged there.
        const FitBadge gpu = assessFit(model, {.nCtx = 128,
                                               .kvType = hearth::KvCacheType::f16,
                                               .gpu = true,
                                               .gpuName = QStringLiteral("Test GPU"),
                                               .gpuFreeBytes = 1,
                                               .gpuLayers = hearth::kAutoGpuLayers,
                                               .hostAvailableBytes = 8ull << 30});
        QCOMPARE(gpu.fit, QStringLiteral("fits"));
        QVERIFY2(gpu.detail.contains(QStringLiteral("RAM available")), qPrintable(gpu.detail));
    }
};

QTEST_MAIN(TestHybridMemory)
#include "tst_hybrid_memory.moc"
