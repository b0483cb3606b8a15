// DeviceProbe: the CUDA device list is asked on the probe's own thread, never the GUI
// thread, and comes back by signals; requests during a run are merged into one more run;
// an engine error becomes the status. A lister that blocks until the test lets it go stands
// for a slow CUDA driver start. Then this machine's real answer, against the engine's.
#include "device_probe.h"

#include <QSemaphore>
#include <QSignalSpy>
#include <QThread>
#include <QtTest>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace {

// A lister that waits for `release` before each answer and records where it ran.
struct FakeLister {
    std::shared_ptr<QSemaphore> release = std::make_shared<QSemaphore>();
    std::shared_ptr<std::atomic<QThread*>> thread = std::make_shared<std::atomic<QThread*>>();
    std::shared_ptr<std::atomic_int> calls = std::make_shared<std::atomic_int>(0);
    DeviceProbe::Answer answer;

    DeviceProbe::Lister lister() const {
        return [*this] {
            release->acquire();
            thread->store(QThread::currentThread());
            const int call = ++*calls;
            DeviceProbe::Answer result = answer;
            for (DeviceProbe::Gpu& gpu : result.gpus) {
                gpu.freeBytes -= quint64(call) << 20; // each sample reads a new figure
            }
            return result;
        };
    }
};

constexpr quint64 kGiB = quint64(1) << 30;

} // namespace

class TestDeviceProbe : public QObject {
    Q_OBJECT

private slots:
    void answersOffTheGuiThread() {
        FakeLister fake;
        fake.answer.gpus = {{0, QStringLiteral("Test GPU"), 24 * kGiB, 20 * kGiB}};
        DeviceProbe probe(fake.lister());
        QSignalSpy devices(&probe, &DeviceProbe::devicesChanged);
        QSignalSpy memory(&probe, &DeviceProbe::memorySampled);
        // The constructor returned while the lister is still blocked.
        QVERIFY(!probe.ready());
        QVERIFY(probe.gpus().isEmpty());
        QVERIFY(probe.gpu(0) == nullptr);
        QVERIFY(probe.status().contains(QLatin1String("looking")));
        QCOMPARE(probe.memoryDevices().size(), 1);
        QCOMPARE(probe.memoryDevices().first().name, QStringLiteral("RAM"));

        fake.release->release();
        QTRY_VERIFY(probe.ready());
        QVERIFY(fake.thread->load() != nullptr);
        QVERIFY(fake.thread->load() != QThread::currentThread());
        QCOMPARE(devices.count(), 1);
        QCOMPARE(memory.count(), 1);
        QVERIFY(probe.status().isEmpty());
        QCOMPARE(probe.gpus().size(), 1);
        const DeviceProbe::Gpu* gpu = probe.gpu(0);
        QVERIFY(gpu);
        QCOMPARE(gpu->name, QStringLiteral("Test GPU"));
        QCOMPARE(gpu->freeBytes, 20 * kGiB - (quint64(1) << 20));
        QVERIFY(probe.gpu(1) == nullptr);
        const QList<MemoryDevice> machine = probe.memoryDevices();
        QCOMPARE(machine.size(), 2);
        QCOMPARE(machine[0].name, QStringLiteral("RAM"));
        QVERIFY(!machine[0].gpu && machine[0].totalBytes > 0);
        QCOMPARE(machine[1].name, QStringLiteral("Test GPU"));
        QVERIFY(machine[1].gpu);
        QCOMPARE(machine[1].totalBytes, 24 * kGiB);
    }

    void samplesMergeWhileOneRuns() {
        FakeLister fake;
        fake.answer.gpus = {{1, QStringLiteral("Second GPU"), 8 * kGiB, 6 * kGiB}};
        DeviceProbe probe(fake.lister());
        QSignalSpy devices(&probe, &DeviceProbe::devicesChanged);
        QSignalSpy memory(&probe, &DeviceProbe::memorySampled);
        // Two requests during the first run: one more run, not two.
        probe.sampleMemory();
        probe.sampleMemory();
        fake.release->release(3);
        QTRY_COMPARE(memory.count(), 2);
        QTest::qWait(50);
        QCOMPARE(memory.count(), 2);
        QCOMPARE(fake.calls->load(), 2);
        QCOMPARE(devices.count(), 1);
        QCOMPARE(probe.gpu(1)->freeBytes, 6 * kGiB - (quint64(2) << 20));
        // A request when idle runs at once.
        probe.sampleMemory();
        QTRY_COMPARE(memory.count(), 3);
        QCOMPARE(devices.count(), 1);
        QCOMPARE(probe.gpu(1)->freeBytes, 6 * kGiB - (quint64(3) << 20));
    }

    void errorIsTheStatus() {
        FakeLister fake;
        fake.answer.error = QStringLiteral("CUDA driver not found");
        fake.release->release();
        DeviceProbe probe(fake.lister());
        QTRY_VERIFY(probe.ready());
        QCOMPARE(probe.status(), QStringLiteral("CUDA driver not found"));
        QVERIFY(probe.gpus().isEmpty());
        QCOMPARE(probe.memoryDevices().size(), 1);
    }

    void destroyedWhileRunning() {
        FakeLister fake;
        auto probe = std::make_unique<DeviceProbe>(fake.lister());
        QVERIFY(!probe->ready());
        // The destructor waits for the run under way (the GUI thread is blocked in it, so
        // another thread lets the lister go); its answer then goes nowhere.
        std::thread releaser([release = fake.release] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            release->release();
        });
        probe.reset();
        releaser.join();
        QCOMPARE(fake.calls->load(), 1);
        QTest::qWait(20); // nothing is delivered to the deleted probe
    }

    void thisMachine() {
        // The process's probe, as the app uses it, against the engine's own answer.
        DeviceProbe* probe = DeviceProbe::instance();
        QCOMPARE(DeviceProbe::instance(), probe);
        QTRY_VERIFY_WITH_TIMEOUT(probe->ready(), 60000);
        const DeviceProbe::Answer engine = DeviceProbe::listCudaDevices();
        QCOMPARE(probe->gpus().size(), engine.gpus.size());
        QCOMPARE(probe->status(), engine.error);
        const QList<MemoryDevice> machine = probe->memoryDevices();
        QCOMPARE(machine.first().name, QStringLiteral("RAM"));
        QVERIFY(machine.first().totalBytes > 0);
        for (qsizetype i = 0; i < machine.size(); ++i) {
            qInfo("memory device: %s, %s", qPrintable(machine[i].name),
                  hearth::format_bytes(static_cast<double>(machine[i].totalBytes)).c_str());
            QCOMPARE(machine[i].gpu, i > 0);
            QVERIFY(!machine[i].name.isEmpty());
        }
        if (engine.gpus.isEmpty()) {
            QVERIFY(!probe->status().isEmpty());
        } else {
            QCOMPARE(probe->gpus().first().name, engine.gpus.first().name);
            QCOMPARE(probe->gpus().first().totalBytes, engine.gpus.first().totalBytes);
        }
    }
};

QTEST_GUILESS_MAIN(TestDeviceProbe)
#include "tst_device_probe.moc"
