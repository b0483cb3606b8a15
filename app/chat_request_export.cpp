// "Copy as…": the current conversation, system prompt and sampling settings as a request to
// Hearth's server, llama-server, vLLM or Ollama (hearth::server::export_request).
#include "chat_controller.h"

#include <QFileInfo>
#include <iterator>

namespace {

std::string utf8(const QString& text) {
    return text.toStdString();
}

} // namespace

hearth::server::RequestExportInput ChatController::requestExportInput() const {
    hearth::server::RequestExportInput input;
    const QString& path = m_modelPath;
    // hearth-cli serve names the model by its file's stem unless told otherwise (--name).
    input.model = path.isEmpty() ? std::string("model") : utf8(QFileInfo(path).completeBaseName());
    input.model_file = utf8(path);
    input.template_name = utf8(m_preview.templateName());
    input.system_prompt = utf8(m_systemPrompt);
    if (const auto conversation = current()) {
        for (const Message& message : conversation->messages) {
            // A reply that has not produced anything yet is not part of the conversation.
            if (message.text.isEmpty() && message.reasoning.isEmpty()) {
                continue;
            }
            input.messages.push_back(
                {utf8(message.role), utf8(message.text), utf8(message.reasoning)});
        }
    }
    input.fixed_seed = !m_sampling.randomSeed();
    input.sampling = m_sampling.toParams(quint64(m_sampling.seed()));
    input.max_tokens = m_sampling.maxTokens();
    input.context_length = m_modelState == ModelState::Ready ? m_model.contextLength : 0;
    if (m_server->state() == LocalServer::State::Running) {
        input.hearth_url = utf8(m_server->url());
        input.hearth_api_key = m_server->hasApiKey();
    }
    return input;
}

QVariantList ChatController::requestExports() const {
    const auto input = requestExportInput();
    QVariantList formats;
    for (hearth::server::RequestTarget target : hearth::server::kRequestTargets) {
        const auto request = hearth::server::export_request(input, target);
        QStringList notes;
        for (const std::string& note : request.notes) {
            notes << QString::fromStdString(note);
        }
        formats << QVariantMap{{QStringLiteral("name"), QString::fromStdString(request.name)},
                               {QStringLiteral("command"), QString::fromStdString(request.command)},
                               {QStringLiteral("notes"), notes}};
    }
    return formats;
}

QString ChatController::requestAs(int format) const {
    const auto& targets = hearth::server::kRequestTargets;
    if (format < 0 || format >= int(std::size(targets))) {
        return {};
    }
    return QString::fromStdString(
        hearth::server::export_request(requestExportInput(), targets[format]).command);
}

bool ChatController::copyRequestAs(int format) {
    const QString command = requestAs(format);
    if (command.isEmpty()) {
        return false;
    }
    copyToClipboard(command);
    return true;
}
