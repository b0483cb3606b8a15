// EngineWorker's remote Compare columns (issue 20): a column whose model is a remote server's
// sends its own request (the same conversation, sampling and seed as the others), streamed as
// the column's text. Without a template the server applies its own (/v1/chat/completions);
// with one, the prompt rendered here is sent raw to /v1/completions, so that the template
// shoot-out works against vLLM or llama.cpp's server too.
#include "engine_worker.h"
#include "remote_generation.h"

namespace remote = hearth::remote;

GenerationResult EngineWorker::runRemoteColumn(quint64 id, int column,
                                               const CompareColumnRequest& request,
                                               const std::string& rawPrompt) {
    const RemoteTarget& target = *request.remote;
    remote::EndpointConfig config;
    config.url = target.url.toStdString();
    config.api_key = target.apiKey.toStdString();
    auto client = remote::RemoteClient::create(std::move(config));
    GenerationResult failed;
    failed.stopReason = QStringLiteral("error");
    if (!client) {
        failed.error = QString::fromStdString(client.error().error.message);
        return failed;
    }
    // The knobs sent are the ones the server takes: its family, probed once per URL.
    auto known = m_remoteFamilies.find(target.url);
    if (known == m_remoteFamilies.end()) {
        auto probe = client->probe();
        if (!probe) {
            failed.error = QString::fromStdString(probe.error().error.message);
            return failed;
        }
        if (!request.templateName.isEmpty() && !probe->has_completions) {
            failed.error = QStringLiteral("%1 has no /v1/completions to send a raw prompt to: it "
                                          "applies its own template (choose the model's own)")
                               .arg(QString::fromStdString(client->url().display()));
            return failed;
        }
        known = m_remoteFamilies.emplace(target.url, probe->family).first;
    }
    client->set_family(known->second);

    remote::CancelToken cancel;
    {
        const std::lock_guard lock(m_remoteMutex);
        m_compareRemoteRunning.emplace(id, cancel);
    }
    if (id <= m_compareCancelUpTo.load()) { // stopped before it was registered
        cancel.cancel();
    }
    const remote::RemoteChatRequest chat =
        remoteChatRequest(target.model, request.messages, request.sampling, request.maxTokens);
    remote::RemoteCompletionRequest completion;
    completion.model = target.model.toStdString();
    completion.prompt = rawPrompt;
    completion.generation = chat.generation;
    const bool raw = !request.templateName.isEmpty();
    RemoteRun run{.client = &*client,
                  .model = target.model,
                  .chat = raw ? nullptr : &chat,
                  .completion = raw ? &completion : nullptr,
                  .cancel = cancel,
                  .flushIntervalMs = kFlushIntervalMs};
    GenerationResult result = runRemote(
        run, [&](const QString& reasoning, const QString& answer, int events, int, double ms) {
            emit compareTokensArrived(id, column, reasoning, answer, events, ms);
        });
    {
        const std::lock_guard lock(m_remoteMutex);
        m_compareRemoteRunning.reset();
    }
    return result;
}
