// This machine's CUDA devices, asked off the GUI thread. The first hearth::list_cuda_devices()
// initialises the CUDA driver, which takes from 100 ms to seconds on a machine with a GPU,
// and every call creates a context on each device to read its free memory: the GUI thread
// never makes that call. DeviceProbe makes it on its own thread, once at start-up and then
// whenever sampleMemory() asks for fresh memory figures (the gauge, each second), and keeps
// the last answer for the Models panel, the fit badges and the gauge.
//
// One per process, instance(), created and started on first use. GUI thread only: the
// answers come back to it as signals.
#pragma once

#include "model_fit.h"

#include <QFutureWatcher>
#include <QList>
#include <QObject>
#include <QString>
#include <QThreadPool>
#include <functional>

class DeviceProbe : public QObject {
    Q_OBJECT
public:
    struct Gpu {
        int index = 0;          // the CUDA runtime's ordinal, as ModelSummary::cudaDevice
        QString name;           // "NVIDIA H100 80GB HBM3"
        quint64 totalBytes = 0; // device memory
        quint64 freeBytes = 0;  // free at the last sample, for every process
    };
    // The devices, or why there are none (the engine's message: "built without CUDA",
    // "CUDA driver not found", "no CUDA device: ...").
    struct Answer {
        QList<Gpu> gpus;
        QString error;
    };
    using Lister = std::function<Answer()>;

    // The probe of this process (owned by the application object), started on first use.
    static DeviceProbe* instance();

    // Starts asking `lister` (hearth::list_cuda_devices by default) on the probe's thread.
    explicit DeviceProbe(Lister lister = {}, QObject* parent = nullptr);
    ~DeviceProbe() override;

    // True once the first answer is in; until then gpus() is empty and status() says so.
    bool ready() const { return m_ready; }
    const QList<Gpu>& gpus() const { return m_answer.gpus; }
    // The device of CUDA ordinal `index`, or null (unknown, or not probed yet).
    const Gpu* gpu(int index) const;
    // Empty when there are GPUs; else why not, or that the probe is still running.
    QString status() const;
    // This machine's memory for the fit badges: RAM, then each GPU (none until ready()).
    QList<MemoryDevice> memoryDevices() const;

    // Asks for fresh memory figures; memorySampled() follows. A request made while the probe
    // is running is answered by the run after it (one at most).
    void sampleMemory();

    // The engine's answer, converted (runs on any thread).
    static Answer listCudaDevices();

signals:
    // The first answer is in (ready() turned true).
    void devicesChanged();
    // gpus() has new memory figures (also with the first answer).
    void memorySampled();

private:
    void run();
    void onAnswer();

    Lister m_lister;
    QThreadPool m_thread; // one thread: the CUDA calls never overlap one another
    QFutureWatcher<Answer> m_watcher;
    Answer m_answer;
    bool m_ready = false;
    bool m_pending = false; // sampleMemory() came while a run was under way
};
