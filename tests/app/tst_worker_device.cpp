// The worker's device choice (EngineWorker::loadModel's `device`): "cpu" runs on the CPU and
// says so; a GPU that cannot take the model ("cuda:4096" here, which no machine has) leaves
// the model loaded on the CPU with a visible note rather than no model; "auto" says what it
// chose. The Gauge shows the summary's device and note. On the default model.
#include "engine_worker.h"
#include "gauge.h"
#include "test_support.h"

#include <QSignalSpy>
#include <QtTest>

namespace {

// The worker's signals, received on the test thread by queued connections (QSignalSpy is not
// thread-safe).
class LoadRelay : public QObject {
    Q_OBJECT
public:
    explicit LoadRelay(EngineWorker* worker) {
        connect(worker, &EngineWorker::modelLoaded, this, &LoadRelay::modelLoaded,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::loadFailed, this, &LoadRelay::loadFailed,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::generationFinished, this, &LoadRelay::generationFinished,
                Qt::QueuedConnection);
    }
signals:
    void modelLoaded(const ModelSummary& summary);
    void loadFailed(const QString& message);
    void generationFinished(quint64 id, const GenerationResult& result);
};

} // namespace

class TestWorkerDevice : public QObject {
    Q_OBJECT

    QString modelPath_;

    ModelSummary load(const QString& device) {
        EngineThread engine;
        LoadRelay relay(engine.worker());
        QSignalSpy loaded(&relay, &LoadRelay::modelLoaded);
        QSignalSpy failed(&relay, &LoadRelay::loadFailed);
        QSignalSpy finished(&relay, &LoadRelay::generationFinished);
        engine.post([w = engine.worker(), path = modelPath_, device] {
            w->loadModel(path, 256, 1, device);
        });
        if (!loaded.wait(120000)) {
            qWarning("no model loaded: %s",
                     failed.isEmpty() ? "timeout" : qPrintable(failed[0][0].toString()));
            return {};
        }
        // The session works wherever it landed.
        GenerationRequest request;
        request.id = 1;
        request.messages = {{QStringLiteral("user"), QStringLiteral("Hi")}};
        request.sampling.temperature = 0;
        request.maxTokens = 3;
        engine.post([w = engine.worker(), request] { w->generate(request); });
        if (!finished.wait(120000) ||
            finished[0][1].value<GenerationResult>().generatedTokens == 0) {
            qWarning("the loaded model did not generate");
            return {};
        }
        return loaded[0][0].value<ModelSummary>();
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        modelPath_ = QString::fromStdString(path.string());
    }

    void cpu() {
        const ModelSummary summary = load(QStringLiteral("cpu"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(summary.cudaDevice, -1);
        QVERIFY2(summary.device.startsWith(QStringLiteral("CPU, ")), qPrintable(summary.device));
        QVERIFY(summary.deviceNote.isEmpty());
        QVERIFY(!summary.deviceFellBack);
        QVERIFY(summary.weightsBytes > 50'000'000);
    }

    // Wherever the GPU cannot take the model, the CPU does, and the note says why.
    void gpu_failure_falls_back_to_the_cpu() {
        const ModelSummary summary = load(QStringLiteral("cuda:4096"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(summary.cudaDevice, -1);
        QVERIFY(summary.deviceFellBack);
        QVERIFY2(summary.deviceNote.contains(QStringLiteral("runs on the CPU")) &&
                     summary.deviceNote.contains(QStringLiteral("CUDA")),
                 qPrintable(summary.deviceNote));

        Gauge gauge;
        gauge.setModel(summary);
        QCOMPARE(gauge.runningOn(), summary.device);
        QCOMPARE(gauge.deviceNote(), summary.deviceNote);
        QVERIFY(gauge.deviceFellBack());
        QVERIFY(!gauge.onGpu());
        gauge.clearModel();
        QVERIFY(gauge.deviceNote().isEmpty() && !gauge.deviceFellBack());
    }

    // "auto" explains its choice; on a GPU the summary's memory is the session's own arenas.
    void automatic() {
        const ModelSummary summary = load(QStringLiteral("auto"));
        QVERIFY(!summary.path.isEmpty());
        QVERIFY2(summary.deviceNote.startsWith(QStringLiteral("auto: ")),
                 qPrintable(summary.deviceNote));
        if (summary.cudaDevice >= 0) {
            QVERIFY2(summary.device.contains(QStringLiteral("CUDA")), qPrintable(summary.device));
            QVERIFY(summary.weightsBytes > 0 && summary.kvBytes > 0 && summary.scratchBytes > 0);
        } else {
            QVERIFY2(summary.device.startsWith(QStringLiteral("CPU")), qPrintable(summary.device));
        }
    }

    // An unknown setting is not fatal: the CPU, with the reason.
    void unknown_setting() {
        const ModelSummary summary = load(QStringLiteral("quantum"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(summary.cudaDevice, -1);
        QVERIFY2(summary.deviceNote.contains(QStringLiteral("unknown device 'quantum'")),
                 qPrintable(summary.deviceNote));
    }
};

QTEST_GUILESS_MAIN(TestWorkerDevice)
#include "tst_worker_device.moc"
