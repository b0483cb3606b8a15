// Gauge figures: the engine's memory plan, /proc/self/status, and generation statistics.
#include "gauge.h"

#include "device_probe.h"
#include "engine_worker.h"
#include "hearth/memory_plan.h"

#include <QFile>
#include <QVariantMap>
#include <algorithm>

namespace {
constexpr int kHistoryLength = 64;
}

Gauge::Gauge(QObject* parent) : QObject(parent) {
    if (const auto host = hearth::read_host_memory()) {
        m_deviceTotalBytes = double(host->total_bytes);
    }
    m_memoryTimer.setInterval(1000);
    // A GPU's figures come from DeviceProbe, read off the GUI thread: each tick shows the
    // last ones and asks for the next.
    connect(&m_memoryTimer, &QTimer::timeout, this, [this] {
        if (m_cudaDevice >= 0) {
            DeviceProbe::instance()->sampleMemory();
        }
        sampleMemory();
    });
    connect(DeviceProbe::instance(), &DeviceProbe::memorySampled, this, [this] {
        if (m_cudaDevice >= 0) {
            sampleMemory();
        }
    });
    m_memoryTimer.start();
    sampleMemory();
}

QString Gauge::formatBytes(double bytes) {
    return QString::fromStdString(hearth::format_bytes(bytes));
}

double Gauge::readResidentBytes() {
    QFile file(QStringLiteral("/proc/self/status"));
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) {
        return 0;
    }
    // "VmRSS:	  123456 kB"
    for (QByteArray line = file.readLine(); !line.isEmpty(); line = file.readLine()) {
        if (line.startsWith("VmRSS:")) {
            const QList<QByteArray> fields = line.mid(6).simplified().split(' ');
            return fields.isEmpty() ? 0 : fields.first().toDouble() * 1024.0;
        }
    }
    return 0;
}

QString Gauge::deviceName() const {
    return m_cudaDevice >= 0 ? QStringLiteral("%1 (GPU memory)").arg(m_cudaName)
                             : QStringLiteral("CPU (system RAM)");
}

void Gauge::setCudaDevice(int index) {
    if (index == m_cudaDevice) {
        return;
    }
    m_cudaDevice = index;
    m_cudaName.clear();
    m_deviceTotalBytes = 0;
    m_residentBytes = 0;
    if (index < 0) {
        if (const auto host = hearth::read_host_memory()) {
            m_deviceTotalBytes = double(host->total_bytes);
        }
    } else {
        DeviceProbe::instance()->sampleMemory();
    }
    sampleMemory();
    emit memoryChanged();
}

void Gauge::sampleMemory() {
    double used = 0;
    if (m_cudaDevice >= 0) {
        // Device memory in use by every process, as cudaMemGetInfo reports it: what matters
        // is whether the next allocation fits. The probe's last sample.
        if (const DeviceProbe::Gpu* gpu = DeviceProbe::instance()->gpu(m_cudaDevice)) {
            m_cudaName = gpu->name;
            m_deviceTotalBytes = double(gpu->totalBytes);
            used = double(gpu->totalBytes - gpu->freeBytes);
        }
    } else {
        used = readResidentBytes();
    }
    if (used != m_residentBytes) {
        m_residentBytes = used;
        emit memoryChanged();
    }
}

void Gauge::setModel(const ModelSummary& summary) {
    setCudaDevice(summary.cudaDevice);
    m_runningOn = summary.device;
    m_deviceNote = summary.deviceNote;
    m_deviceFellBack = summary.deviceFellBack;
    m_gpuLayers = summary.gpuLayers;
    m_layerCount = summary.layerCount;
    m_hostKvBytes = double(summary.hostKvBytes);
    m_weightsBytes = double(summary.weightsBytes);
    m_kvBytes = double(summary.kvBytes);
    m_kvType = summary.kvType.toUpper();
    m_scratchBytes = double(summary.scratchBytes);
    m_recurrentBytes = double(summary.recurrentBytes);
    m_kvCapacity = summary.contextLength;
    m_kvUsed = 0;
    m_remote = summary.remote;
    m_serverMemory.clear();
    if (m_remote) {
        m_serverMemory = QStringLiteral("The model's memory is on the server (%1).")
                             .arg(summary.serverDescription);
        if (summary.serverModelBytes > 0) {
            m_serverMemory += QStringLiteral(" The server reports %1 for the model")
                                  .arg(formatBytes(double(summary.serverModelBytes)));
            m_serverMemory += summary.serverGpuBytes > 0
                                  ? QStringLiteral(", %1 of it on GPUs.")
                                        .arg(formatBytes(double(summary.serverGpuBytes)))
                                  : QStringLiteral(".");
        } else {
            m_serverMemory += QStringLiteral(" This server does not report its memory.");
        }
    }
    m_contextCost = summary.contextCost;
    m_measuredBytes = double(summary.measuredBytes);
    m_memoryTruthDifference = summary.memoryTruthDifference;
    m_memoryTruth = summary.memoryTruth;
    m_positionSpeeds.clear();
    emit modelChanged();
    emit statsChanged();
    sampleMemory();
}

void Gauge::clearModel() {
    m_weightsBytes = m_kvBytes = m_scratchBytes = m_recurrentBytes = 0;
    m_kvType.clear();
    m_kvCapacity = 0;
    m_kvUsed = 0;
    m_remote = false;
    m_serverMemory.clear();
    m_runningOn.clear();
    m_deviceNote.clear();
    m_deviceFellBack = false;
    m_gpuLayers = m_layerCount = 0;
    m_hostKvBytes = 0;
    m_contextCost.clear();
    m_measuredBytes = m_memoryTruthDifference = 0;
    m_memoryTruth.clear();
    m_positionSpeeds.clear();
    emit modelChanged();
    emit statsChanged();
}

void Gauge::generationStarted() {
    m_live = true;
    m_decodeHistory.clear();
    m_firstGenerated = 0;
    m_firstMs = 0;
    m_thinkingTokens = 0;
    m_thinkingTps = 0;
    m_answerTps = 0;
    m_draftedTokens = m_acceptedDraftTokens = 0;
    emit statsChanged();
}

void Gauge::progress(int generated, double ms, int thinkingTokens) {
    m_thinkingTokens = thinkingTokens;
    if (m_firstGenerated == 0) {
        m_firstGenerated = generated;
        m_firstMs = ms;
        return;
    }
    const double seconds = (ms - m_firstMs) / 1000.0;
    if (seconds <= 0 || generated <= m_firstGenerated) {
        return;
    }
    m_decodeTps = (generated - m_firstGenerated) / seconds;
    m_decodeHistory.push_back(m_decodeTps);
    if (m_decodeHistory.size() > kHistoryLength) {
        m_decodeHistory.removeFirst();
    }
    emit statsChanged();
}

void Gauge::generationFinished(const GenerationResult& result) {
    m_live = false;
    if (result.generatedTokens > 0) {
        m_prefillTps = result.prefillTokensPerSecond;
        m_decodeTps = result.decodeTokensPerSecond;
        m_ttftMs = result.ttftMs;
        m_thinkingTokens = result.reasoningTokens;
        m_thinkingTps = result.reasoningTokensPerSecond;
        m_answerTps = result.answerTokensPerSecond;
        if (result.kvUsed > 0) {
            const PositionSpeed point{result.kvUsed, result.decodeTokensPerSecond,
                                      result.prefillTokensPerSecond};
            auto at = std::lower_bound(
                m_positionSpeeds.begin(), m_positionSpeeds.end(), point.position,
                [](const PositionSpeed& p, int position) { return p.position < position; });
            m_positionSpeeds.insert(at, point);
            if (m_positionSpeeds.size() > kHistoryLength) { // the oldest context is least news
                m_positionSpeeds.removeFirst();
            }
        }
    }
    m_draftedTokens = result.draftedTokens;
    m_acceptedDraftTokens = result.acceptedDraftTokens;
    m_kvUsed = result.kvUsed;
    emit statsChanged();
    sampleMemory();
}

void Gauge::setKvUsed(int tokens) {
    m_kvUsed = tokens;
    emit statsChanged();
}

QVariantList Gauge::speedByPosition() const {
    QVariantList out;
    for (const PositionSpeed& point : m_positionSpeeds) {
        out.append(QVariantMap{{QStringLiteral("position"), point.position},
                               {QStringLiteral("decode"), point.decode},
                               {QStringLiteral("prefill"), point.prefill}});
    }
    return out;
}

QList<qreal> Gauge::decodeByPosition() const {
    QList<qreal> out;
    for (const PositionSpeed& point : m_positionSpeeds) {
        out.append(point.decode);
    }
    return out;
}
