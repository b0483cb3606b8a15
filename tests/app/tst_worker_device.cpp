// The worker's device choice (EngineWorker::loadModel's `device`): "cpu" runs on the CPU and
// says so; a GPU that cannot take the model ("cuda:4096" here, which no machine has) leaves
// the model loaded on the CPU with a visible note rather than no model; "auto" says what it
// chose. The GPU layers setting reaches the SessionOptions the worker creates sessions with
// (checked without a GPU too: the options are kept as created), a bad one is taken as "auto"
// with a note, and the Gauge shows a partial offload. The Gauge shows the summary's device
// and note. On the default model.
#include "engine_worker.h"
#include "gauge.h"
#include "hearth/cuda_device.h"
#include "hearth/gpu_layers.h"
#include "test_support.h"
#include "worker_relay.h"

#include <QSignalSpy>
#include <QtTest>
#include <atomic>

class TestWorkerDevice : public QObject {
    Q_OBJECT

    QString modelPath_;
    // SessionOptions::gpu_layers of the last load() (its session's options, read on the
    // worker's thread).
    int32_t sessionGpuLayers_ = 0;

    ModelSummary load(const QString& device, const QString& gpuLayers = QStringLiteral("auto")) {
        EngineThread engine;
        WorkerRelay relay(engine.worker());
        QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
        QSignalSpy failed(&relay, &WorkerRelay::loadFailed);
        QSignalSpy finished(&relay, &WorkerRelay::generationFinished);
        engine.post([w = engine.worker(), path = modelPath_, device, gpuLayers] {
            w->loadModel(path, 256, 1, device, gpuLayers);
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
        std::atomic<bool> read{false};
        std::atomic<int32_t> gpuLayersOption{0};
        engine.post([w = engine.worker(), &read, &gpuLayersOption] {
            gpuLayersOption = w->sessionOptions().gpu_layers;
            read = true;
        });
        if (!QTest::qWaitFor([&read] { return read.load(); }, 10000)) {
            qWarning("the worker did not answer");
            return {};
        }
        sessionGpuLayers_ = gpuLayersOption;
        return loaded[0][0].value<ModelSummary>();
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        modelPath_ = QString::fromStdString(path.string());
    }

    void cpu() {
        const ModelSummary summary = load(QStringLiteral("cpu"), QStringLiteral("18"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(summary.cudaDevice, -1);
        QVERIFY2(summary.device.startsWith(QStringLiteral("CPU, ")), qPrintable(summary.device));
        QVERIFY(summary.deviceNote.isEmpty());
        QVERIFY(!summary.deviceFellBack);
        QVERIFY(summary.weightsBytes > 50'000'000);
        // The setting is passed on (a CPU session ignores it); no layer is on a GPU.
        QCOMPARE(sessionGpuLayers_, 18);
        QCOMPARE(summary.gpuLayers, 0);
        QCOMPARE(summary.layerCount, 30); // SmolLM2-135M
        QCOMPARE(summary.hostKvBytes, 0);
    }

    // A value parse_gpu_layers refuses (a stale setting) loads with "auto", saying so.
    void bad_gpu_layers() {
        const ModelSummary summary = load(QStringLiteral("cpu"), QStringLiteral("lots"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(sessionGpuLayers_, hearth::kAutoGpuLayers);
        QVERIFY2(summary.deviceNote.contains(QStringLiteral("GPU layers 'lots'")) &&
                     summary.deviceNote.endsWith(QStringLiteral("; auto used")),
                 qPrintable(summary.deviceNote));
        QVERIFY(!summary.deviceFellBack);
    }

    // The Gauge with a partial offload: the GPU's share of the layers, and the CPU's KV cache.
    void gauge_partial_offload() {
        ModelSummary summary;
        summary.cudaDevice = 0;
        summary.device = QStringLiteral("Test GPU (CUDA 0)");
        summary.deviceNote = QStringLiteral("partial offload: 18 of 32 layers on the GPU");
        summary.contextLength = 4096;
        summary.gpuLayers = 18;
        summary.layerCount = 32;
        summary.kvBytes = 18 << 20;
        summary.hostKvBytes = 14 << 20;
        Gauge gauge;
        gauge.setModel(summary);
        QVERIFY(gauge.onGpu());
        QVERIFY(gauge.partialOffload());
        QCOMPARE(gauge.gpuLayers(), 18);
        QCOMPARE(gauge.layerCount(), 32);
        QCOMPARE(gauge.hostKvBytes(), double(14 << 20));
        // The whole model on the GPU is no partial offload, nor is the CPU.
        summary.gpuLayers = 32;
        gauge.setModel(summary);
        QVERIFY(!gauge.partialOffload());
        summary.cudaDevice = -1;
        summary.gpuLayers = 0;
        gauge.setModel(summary);
        QVERIFY(!gauge.partialOffload());
        gauge.clearModel();
        QCOMPARE(gauge.layerCount(), 0);
        QCOMPARE(gauge.hostKvBytes(), 0.0);
    }

    // Wherever the GPU cannot take the model, the CPU does, and the note says why.
    void gpu_failure_falls_back_to_the_cpu() {
        const ModelSummary summary = load(QStringLiteral("cuda:4096"), QStringLiteral("all"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(summary.cudaDevice, -1);
        // The CPU session is made from the same options, GPU layers included.
        QCOMPARE(sessionGpuLayers_, hearth::kAllGpuLayers);
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
        QCOMPARE(sessionGpuLayers_, hearth::kAutoGpuLayers);
        if (summary.cudaDevice >= 0) {
            QVERIFY2(summary.device.contains(QStringLiteral("CUDA")), qPrintable(summary.device));
            QVERIFY(summary.weightsBytes > 0 && summary.kvBytes > 0 && summary.scratchBytes > 0);
            // "auto" chose the GPU because the whole model fits it.
            QCOMPARE(summary.gpuLayers, summary.layerCount);
            QVERIFY(!summary.deviceNote.contains(QStringLiteral("partial offload")));
        } else {
            QVERIFY2(summary.device.startsWith(QStringLiteral("CPU")), qPrintable(summary.device));
        }
    }

    // On a GPU, a layer count below the model's splits it: those layers on the GPU, the rest
    // and their KV cache on the CPU, said in the note.
    void gpu_partial_offload() {
        if (const auto devices = hearth::list_cuda_devices(); !devices || devices->empty()) {
            QSKIP("no CUDA device");
        }
        const ModelSummary summary = load(QStringLiteral("gpu"), QStringLiteral("10"));
        QVERIFY(!summary.path.isEmpty());
        QCOMPARE(sessionGpuLayers_, 10);
        QVERIFY2(summary.cudaDevice >= 0, qPrintable(summary.deviceNote));
        QCOMPARE(summary.gpuLayers, 10);
        QCOMPARE(summary.layerCount, 30);
        QVERIFY(summary.hostKvBytes > 0);
        QVERIFY2(summary.deviceNote.contains(
                     QStringLiteral("partial offload: 10 of 30 layers on the GPU")),
                 qPrintable(summary.deviceNote));
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
