// EngineWorker's local server (issue 19): the chat's scheduler re-created with the server's
// slots beside the chat's reserved one, hearth::server::OpenAiServer started on it (loopback
// only, no CORS), stopped on request or before the model goes, and read for the panel.
#include "engine_worker.h"
#include "hearth/cuda_device.h"
#include "hearth/device_choice.h"
#include "hearth/memory_plan.h"

#include <QFileInfo>

namespace {

// Requests the server's clients may queue beyond the slots (hearth-cli serve's default).
constexpr size_t kServerQueue = 64;

QString qstr(const std::string& text) {
    return QString::fromStdString(text);
}

QString bytes(double n) {
    return qstr(hearth::format_bytes(n));
}

} // namespace

QString slotMemoryArithmetic(int slotCount, qint64 slotBytes) {
    return QStringLiteral("%1 slot%2 × %3 = %4")
        .arg(slotCount)
        .arg(slotCount == 1 ? "" : "s")
        .arg(bytes(double(slotBytes)))
        .arg(bytes(double(slotCount) * double(slotBytes)));
}

void EngineWorker::setScheduler(std::unique_ptr<hearth::Scheduler> scheduler) {
    {
        const std::lock_guard lock(m_liveMutex);
        m_liveScheduler = scheduler.get();
    }
    m_scheduler = std::move(scheduler); // the old one joins its thread here
}

QString EngineWorker::serverMemoryRefusal(size_t serverSlots) const {
    const bool gpu = m_sessionOptions.device == hearth::DeviceKind::cuda;
    std::optional<uint64_t> available;
    if (const quint64 injected = m_serverAvailableMemory.load(); injected > 0) {
        available = injected;
    } else if (gpu) {
        if (auto devices = hearth::list_cuda_devices(); devices) {
            for (const hearth::CudaDeviceInfo& device : *devices) {
                if (device.index == m_sessionOptions.cuda_device) {
                    available = device.free_bytes;
                }
            }
        }
    } else if (const auto host = hearth::read_host_memory()) {
        available = host->available_bytes;
    }
    const int count = int(serverSlots);
    const uint64_t need = uint64_t(serverSlots) * uint64_t(m_slotBytes);
    if (available && need > *available) {
        return QStringLiteral("The server's slots need %1 more KV cache at context %2, and %3 of "
                              "%4 is free. Choose fewer slots, or a shorter context in the Models "
                              "panel.")
            .arg(slotMemoryArithmetic(count, m_slotBytes))
            .arg(m_scheduler ? m_scheduler->n_ctx() : 0)
            .arg(bytes(double(*available)))
            .arg(gpu ? QStringLiteral("GPU memory") : QStringLiteral("RAM"));
    }
    // A partial offload keeps the CPU's layers' cache in RAM.
    const uint64_t needHost = uint64_t(serverSlots) * uint64_t(m_slotHostBytes);
    if (gpu && needHost > 0) {
        const auto host = hearth::read_host_memory();
        if (host && needHost > host->available_bytes) {
            return QStringLiteral("The server's slots need %1 more KV cache in RAM for the CPU's "
                                  "layers, and %2 is free. Choose fewer slots or a shorter "
                                  "context.")
                .arg(slotMemoryArithmetic(count, m_slotHostBytes))
                .arg(bytes(double(host->available_bytes)));
        }
    }
    return {};
}

hearth::Result<void> EngineWorker::resizeScheduler(size_t serverSlots) {
    // The sessions' device as the chat's were placed, with no fall back: the server's slots
    // must not move the chat to another device.
    const hearth::DeviceRequest where{.automatic = false,
                                      .kind = m_sessionOptions.device,
                                      .cuda_device = m_sessionOptions.cuda_device};
    setScheduler(nullptr); // its memory goes before the new slots take theirs
    auto place = [&](size_t count) {
        return hearth::place_sessions(m_model, m_sessionOptions, where, count,
                                      hearth::FallbackPolicy::only_when_automatic);
    };
    hearth::Result<void> outcome;
    hearth::Placement placed = place(1 + serverSlots);
    if (!placed.sessions && serverSlots > 0) {
        outcome = std::unexpected(placed.sessions.error());
        placed = place(1);
    }
    if (!placed.sessions) {
        return std::unexpected(placed.sessions.error());
    }
    hearth::SchedulerOptions options = chatSchedulerOptions();
    if (placed.sessions->size() > 1) {
        options.queue_capacity = kServerQueue;
        options.reserved_slots = 1;
    }
    auto scheduler = hearth::Scheduler::create(std::move(*placed.sessions), options);
    if (!scheduler) {
        return std::unexpected(scheduler.error());
    }
    setScheduler(std::move(*scheduler));
    return outcome;
}

void EngineWorker::startServer(quint64 ticket, const LocalServerOptions& options) {
    const std::lock_guard life(m_serverLifeMutex);
    if (!m_model || !m_scheduler) {
        emit serverFailed(ticket, QStringLiteral("Load a model to start the server."));
        return;
    }
    if (options.serverSlots < 1 || size_t(options.serverSlots) >= hearth::kMaxSchedulerSlots) {
        emit serverFailed(ticket, QStringLiteral("The server takes 1 to %1 slots, not %2.")
                                      .arg(hearth::kMaxSchedulerSlots - 1)
                                      .arg(options.serverSlots));
        return;
    }
    if (options.port < 1 || options.port > 65535) {
        emit serverFailed(
            ticket, QStringLiteral("Port %1 is not a TCP port (1 to 65535).").arg(options.port));
        return;
    }
    if (m_server) { // new settings: the old server goes first
        std::unique_ptr<hearth::server::OpenAiServer> old;
        {
            const std::lock_guard lock(m_liveMutex);
            old = std::move(m_server);
        }
        old->stop();
    }
    const size_t wanted = size_t(options.serverSlots);
    if (m_scheduler->n_slots() != 1 + wanted) {
        // The slots a restart keeps are spent already.
        const size_t held = m_scheduler->n_slots() - 1;
        if (const QString refusal = wanted > held ? serverMemoryRefusal(wanted - held) : QString();
            !refusal.isEmpty()) {
            if (held > 0) {
                (void)resizeScheduler(0);
            }
            emit serverFailed(ticket, refusal);
            return;
        }
        if (auto resized = resizeScheduler(wanted); !resized) {
            emit serverFailed(ticket, QStringLiteral("The server's slots could not be made: %1")
                                          .arg(qstr(resized.error().message)));
            return;
        }
    }
    hearth::server::ServerOptions serverOptions;
    serverOptions.host = "127.0.0.1"; // the app serves this machine only; CORS stays off
    serverOptions.port = options.port;
    serverOptions.api_key = options.apiKey.toStdString();
    const QFileInfo file(m_modelPath);
    // As hearth-cli serve names it, so that "Copy as…" requests work on either.
    serverOptions.model_id = file.completeBaseName().toStdString();
    serverOptions.model_aliases = {file.fileName().toStdString()};
    auto server = hearth::server::OpenAiServer::start(m_model, *m_scheduler, serverOptions);
    if (!server) {
        (void)resizeScheduler(0);
        emit serverFailed(ticket, qstr(server.error().message));
        return;
    }
    const QString url = qstr((*server)->url());
    {
        const std::lock_guard lock(m_liveMutex);
        m_server = std::move(*server);
    }
    emit serverStarted(ticket, url, options.serverSlots);
}

void EngineWorker::stopServer(const QString& why) {
    const std::lock_guard life(m_serverLifeMutex);
    std::unique_ptr<hearth::server::OpenAiServer> server;
    {
        const std::lock_guard lock(m_liveMutex);
        server = std::move(m_server);
    }
    if (!server) {
        return;
    }
    server->stop(); // cancels its requests and joins its threads
    server.reset();
    emit serverStopped(why);
}

void EngineWorker::leaveServerSlots() {
    const std::lock_guard life(m_serverLifeMutex);
    if (!m_server && m_scheduler && m_scheduler->n_slots() != 1) {
        (void)resizeScheduler(0);
    }
}

LocalServerSnapshot EngineWorker::serverSnapshot() const {
    LocalServerSnapshot snapshot;
    const std::lock_guard lock(m_liveMutex);
    if (m_server) {
        const hearth::server::ServerStats stats = m_server->stats();
        snapshot.serving = true;
        snapshot.requestsInFlight = stats.requests_in_flight;
        snapshot.requestsServed = stats.requests_served;
        snapshot.requestsRefused = stats.requests_refused;
        snapshot.serverTokens = stats.tokens_generated;
    }
    if (m_liveScheduler) {
        const hearth::SchedulerMetrics metrics = m_liveScheduler->metrics();
        snapshot.modelTokens = metrics.tokens_generated;
        snapshot.slotCount = int(metrics.n_slots);
        snapshot.reservedSlots = int(metrics.reserved_slots);
        snapshot.slotsBusy = int(metrics.slots_busy);
        snapshot.queueLength = int(metrics.queue_length);
        for (const hearth::RequestMetrics& running : metrics.running) {
            snapshot.serverSlotsBusy += running.slot >= metrics.reserved_slots ? 1 : 0;
        }
        if (metrics.reserved_slots == 0) {
            snapshot.serverSlotsBusy = 0; // no server slots: the chat's alone
        }
    }
    return snapshot;
}
