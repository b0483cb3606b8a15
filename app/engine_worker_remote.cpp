// EngineWorker's remote model (issue 20): connecting to an OpenAI-compatible server (the
// connection test, the model checked against its /v1/models) and the chat's requests streamed
// from its /v1/chat/completions through the same signals and result type as a local model's.
#include "engine_worker.h"
#include "hearth/remote/server_family.h"
#include "remote_generation.h"

#include <QElapsedTimer>
#include <algorithm>

namespace remote = hearth::remote;

namespace {

QString qstr(std::string_view text) {
    return QString::fromUtf8(text.data(), qsizetype(text.size()));
}

QStringList qstrings(const std::vector<std::string>& items) {
    QStringList out;
    for (const std::string& item : items) {
        out << qstr(item);
    }
    return out;
}

ModelSummary remoteSummary(const RemoteTarget& target, const remote::RemoteClient& client,
                           const remote::ServerProbe& probe) {
    ModelSummary summary;
    summary.path = target.path;
    summary.name = target.name.isEmpty() ? target.model : target.name;
    summary.remote = true;
    summary.endpoint = qstr(client.url().display());
    summary.serverFamily = QString::fromUtf8(remote::server_family_name(probe.family));
    summary.serverDescription =
        probe.description.empty() ? summary.serverFamily : qstr(probe.description);
    summary.serverFacts = qstrings(probe.facts);
    summary.ignoredKnobs = qstrings(remote::ignored_knobs(probe.family));
    summary.serverHasCompletions = probe.has_completions;
    summary.serverModelBytes = qint64(probe.model_memory_bytes);
    summary.serverGpuBytes = qint64(probe.gpu_memory_bytes);
    uint32_t context = probe.context_length;
    for (const remote::RemoteModel& model : probe.models) {
        if (qstr(model.id) == target.model && context == 0) {
            context = model.context_length;
        }
    }
    summary.contextLength = int(std::min<uint32_t>(context, uint32_t(INT32_MAX)));
    summary.trainedContext = summary.contextLength;
    summary.device = QStringLiteral("%1 at %2").arg(summary.serverDescription, summary.endpoint);
    return summary;
}

} // namespace

void EngineWorker::connectRemote(const RemoteTarget& target) {
    unloadModel(); // a local model's memory is not needed while the server answers
    remote::EndpointConfig config;
    config.url = target.url.toStdString();
    config.api_key = target.apiKey.toStdString();
    auto client = remote::RemoteClient::create(std::move(config));
    if (!client) {
        emit loadFailed(qstr(client.error().error.message));
        return;
    }
    QElapsedTimer clock;
    clock.start();
    auto probe = client->probe();
    if (!probe) {
        emit loadFailed(qstr(probe.error().error.message));
        return;
    }
    const bool listed = std::ranges::any_of(probe->models, [&](const remote::RemoteModel& model) {
        return qstr(model.id) == target.model;
    });
    if (!listed) {
        QStringList names;
        for (const remote::RemoteModel& model : probe->models) {
            names << qstr(model.id);
        }
        emit loadFailed(QStringLiteral("%1 has no model \"%2\" (it lists: %3)")
                            .arg(qstr(client->url().display()), target.model,
                                 names.isEmpty() ? QStringLiteral("none") : names.join(", ")));
        return;
    }
    client->set_family(probe->family); // the knobs sent are the ones this server takes
    ModelSummary summary = remoteSummary(target, *client, *probe);
    summary.loadMs = double(clock.elapsed());
    m_remote.emplace(RemoteChat{target, std::move(*client)});
    emit modelLoaded(summary);
}

void EngineWorker::setRemoteKey(const QString& apiKey) {
    if (!m_remote) {
        return;
    }
    remote::EndpointConfig config;
    config.url = m_remote->target.url.toStdString();
    config.api_key = apiKey.toStdString();
    if (auto client = remote::RemoteClient::create(std::move(config), m_remote->client.family())) {
        m_remote->target.apiKey = apiKey;
        m_remote->client = std::move(*client);
    }
}

void EngineWorker::cancelRemote(quint64 upToId) {
    const std::lock_guard lock(m_remoteMutex);
    if (m_remoteRunning && m_remoteRunning->first <= upToId) {
        m_remoteRunning->second.cancel(); // shuts the socket: the server frees the slot
    }
}

void EngineWorker::generateRemote(const GenerationRequest& request) {
    const RemoteChat& chat = *m_remote;
    const remote::RemoteChatRequest body =
        remoteChatRequest(chat.target.model, request.messages, request.sampling, request.maxTokens);
    remote::CancelToken cancel;
    {
        const std::lock_guard lock(m_remoteMutex);
        m_remoteRunning.emplace(request.id, cancel);
    }
    if (cancelled(request.id)) { // stopped before it was registered
        cancel.cancel();
    }
    RemoteRun run{.client = &chat.client,
                  .model = chat.target.model,
                  .chat = &body,
                  .completion = nullptr,
                  .cancel = cancel,
                  .flushIntervalMs = kFlushIntervalMs};
    GenerationResult result = runRemote(run, [&](const QString& reasoning, const QString& answer,
                                                 int events, int reasoningEvents, double ms) {
        emit tokensArrived(request.id, reasoning, answer, events, reasoningEvents, ms);
    });
    {
        const std::lock_guard lock(m_remoteMutex);
        m_remoteRunning.reset();
    }
    result.kvUsed = result.promptTokens + result.generatedTokens; // of the server's context
    emit generationFinished(request.id, result);
}
