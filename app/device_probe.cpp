// This machine's CUDA devices, asked off the GUI thread (see the header).
#include "device_probe.h"

#include "hearth/cuda_device.h"
#include "hearth/memory_plan.h"

#include <QCoreApplication>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

DeviceProbe* DeviceProbe::instance() {
    static QPointer<DeviceProbe> probe;
    if (!probe) {
        probe = new DeviceProbe({}, QCoreApplication::instance());
    }
    return probe;
}

DeviceProbe::DeviceProbe(Lister lister, QObject* parent)
    : QObject(parent),
      m_lister(lister ? std::move(lister) : Lister(&DeviceProbe::listCudaDevices)) {
    m_thread.setMaxThreadCount(1);
    m_thread.setObjectName(QStringLiteral("hearth-device-probe"));
    connect(&m_watcher, &QFutureWatcherBase::finished, this, &DeviceProbe::onAnswer);
    run();
}

DeviceProbe::~DeviceProbe() {
    // A run under way finishes (at most one CUDA call) before the thread goes away.
    disconnect(&m_watcher, nullptr, this, nullptr);
    m_thread.waitForDone();
}

DeviceProbe::Answer DeviceProbe::listCudaDevices() {
    Answer answer;
    auto devices = hearth::list_cuda_devices();
    if (!devices) {
        answer.error = QString::fromStdString(devices.error().message);
        return answer;
    }
    for (const hearth::CudaDeviceInfo& device : *devices) {
        answer.gpus.append({device.index, QString::fromStdString(device.name), device.total_bytes,
                            device.free_bytes});
    }
    if (answer.gpus.isEmpty()) {
        answer.error = QStringLiteral("no CUDA device found");
    }
    return answer;
}

void DeviceProbe::run() {
    m_pending = false;
    m_watcher.setFuture(QtConcurrent::run(&m_thread, m_lister));
}

void DeviceProbe::onAnswer() {
    m_answer = m_watcher.result();
    const bool first = !m_ready;
    m_ready = true;
    if (first) {
        emit devicesChanged();
    }
    emit memorySampled();
    if (m_pending) {
        run();
    }
}

void DeviceProbe::sampleMemory() {
    if (m_watcher.isRunning()) {
        m_pending = true;
    } else {
        run();
    }
}

const DeviceProbe::Gpu* DeviceProbe::gpu(int index) const {
    for (const Gpu& device : m_answer.gpus) {
        if (device.index == index) {
            return &device;
        }
    }
    return nullptr;
}

QString DeviceProbe::status() const {
    return m_ready ? m_answer.error : QStringLiteral("looking for a CUDA device…");
}

QList<MemoryDevice> DeviceProbe::memoryDevices() const {
    QList<MemoryDevice> devices;
    const auto host = hearth::read_host_memory();
    devices.append({QStringLiteral("RAM"), host ? host->total_bytes : 0, false});
    for (const Gpu& gpu : m_answer.gpus) {
        devices.append({gpu.name, gpu.totalBytes, true});
    }
    return devices;
}
