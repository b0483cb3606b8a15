// Conversation values and their JSON form (format version 1).
#include "conversation.h"

#include <QUuid>
#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

std::string utf8(const QString& text) {
    return text.toStdString();
}

QString qstr(const json& value) {
    return QString::fromStdString(value.get<std::string>());
}

json variantToJson(const QVariant& value) {
    switch (value.typeId()) {
    case QMetaType::Bool:
        return value.toBool();
    case QMetaType::Int:
    case QMetaType::LongLong:
        return value.toLongLong();
    case QMetaType::UInt:
    case QMetaType::ULongLong:
        return value.toULongLong();
    case QMetaType::Float:
    case QMetaType::Double:
        return value.toDouble();
    default:
        return utf8(value.toString());
    }
}

QVariant jsonToVariant(const json& value) {
    if (value.is_boolean()) {
        return value.get<bool>();
    }
    if (value.is_number_unsigned()) {
        return QVariant::fromValue(value.get<qulonglong>());
    }
    if (value.is_number_integer()) {
        return QVariant::fromValue(value.get<qlonglong>());
    }
    if (value.is_number()) {
        return value.get<double>();
    }
    if (value.is_string()) {
        return qstr(value);
    }
    return {};
}

} // namespace

QString MessageStats::summary() const {
    if (isEmpty()) {
        return {};
    }
    QStringList parts;
    parts << QStringLiteral("%1 tokens").arg(generatedTokens);
    if (decodeTokensPerSecond > 0) {
        parts << QStringLiteral("%1 tok/s").arg(decodeTokensPerSecond, 0, 'f', 1);
    }
    if (ttftMs > 0) {
        parts << QStringLiteral("first token %1 ms").arg(qRound(ttftMs));
    }
    if (!stopReason.isEmpty()) {
        parts << QStringLiteral("stopped: %1").arg(stopReason);
    }
    return parts.join(QStringLiteral(" · "));
}

Conversation Conversation::create() {
    Conversation conversation;
    conversation.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    conversation.created = QDateTime::currentDateTimeUtc();
    conversation.updated = conversation.created;
    return conversation;
}

QString Conversation::displayTitle() const {
    if (!title.isEmpty()) {
        return title;
    }
    for (const Message& message : messages) {
        if (message.role == QLatin1String("user")) {
            QString first = message.text.simplified();
            return first.size() > 48 ? first.left(47) + QChar(0x2026) : first;
        }
    }
    return QStringLiteral("New chat");
}

json conversationToJson(const Conversation& conversation) {
    json messages = json::array();
    for (const Message& message : conversation.messages) {
        json m{{"role", utf8(message.role)}, {"text", utf8(message.text)}};
        if (!message.stats.isEmpty()) {
            const MessageStats& s = message.stats;
            m["stats"] = {{"prompt_tokens", s.promptTokens},
                          {"generated_tokens", s.generatedTokens},
                          {"prefill_tokens_per_second", s.prefillTokensPerSecond},
                          {"decode_tokens_per_second", s.decodeTokensPerSecond},
                          {"ttft_ms", s.ttftMs},
                          {"stop_reason", utf8(s.stopReason)}};
        }
        messages.push_back(std::move(m));
    }
    json sampling = json::object();
    for (auto it = conversation.sampling.cbegin(); it != conversation.sampling.cend(); ++it) {
        sampling[utf8(it.key())] = variantToJson(it.value());
    }
    return {{"format", "hearth-conversation"},
            {"version", Conversation::formatVersion},
            {"id", utf8(conversation.id)},
            {"title", utf8(conversation.title)},
            {"created", utf8(conversation.created.toString(Qt::ISODateWithMs))},
            {"updated", utf8(conversation.updated.toString(Qt::ISODateWithMs))},
            {"model", utf8(conversation.modelPath)},
            {"template", utf8(conversation.templateName)},
            {"system_prompt", utf8(conversation.systemPrompt)},
            {"sampling", std::move(sampling)},
            {"messages", std::move(messages)}};
}

namespace {

bool readConversation(const json& root, Conversation* conversation, QString* error) {
    auto failWith = [error](const QString& message) {
        *error = message;
        return false;
    };
    if (!root.is_object()) {
        return failWith(QStringLiteral("the file is not a JSON object"));
    }
    if (root.value("format", std::string()) != "hearth-conversation") {
        return failWith(QStringLiteral("the file is not a Hearth conversation (no \"format\": "
                                       "\"hearth-conversation\")"));
    }
    const auto version = root.find("version");
    if (version == root.end() || !version->is_number_integer()) {
        return failWith(QStringLiteral("the \"version\" key is missing or not an integer"));
    }
    if (version->get<int64_t>() > Conversation::formatVersion) {
        return failWith(QStringLiteral("written by a newer Hearth (format version %1; this one "
                                       "reads up to %2)")
                            .arg(version->get<int64_t>())
                            .arg(Conversation::formatVersion));
    }
    // Required keys and their types; optional ones default.
    auto stringAt = [&root](const char* key, QString* out, bool required) -> bool {
        const auto it = root.find(key);
        if (it == root.end()) {
            return !required;
        }
        if (!it->is_string()) {
            return false;
        }
        *out = qstr(*it);
        return true;
    };
    Conversation c;
    QString created;
    QString updated;
    for (auto [key, out, required] : {std::tuple{"id", &c.id, true},
                                      {"title", &c.title, false},
                                      {"created", &created, false},
                                      {"updated", &updated, false},
                                      {"model", &c.modelPath, false},
                                      {"template", &c.templateName, false},
                                      {"system_prompt", &c.systemPrompt, false}}) {
        if (!stringAt(key, out, required)) {
            return failWith(QStringLiteral("the \"%1\" key is missing or not a string")
                                .arg(QLatin1String(key)));
        }
    }
    if (c.id.isEmpty()) {
        return failWith(QStringLiteral("the \"id\" is empty"));
    }
    c.created = QDateTime::fromString(created, Qt::ISODateWithMs);
    c.updated = QDateTime::fromString(updated, Qt::ISODateWithMs);
    if (!c.updated.isValid()) {
        c.updated = c.created;
    }
    if (const auto sampling = root.find("sampling");
        sampling != root.end() && sampling->is_object()) {
        for (const auto& [key, value] : sampling->items()) {
            c.sampling.insert(QString::fromStdString(key), jsonToVariant(value));
        }
    }
    const auto messages = root.find("messages");
    if (messages == root.end() || !messages->is_array()) {
        return failWith(QStringLiteral("the \"messages\" key is missing or not a list"));
    }
    for (size_t i = 0; i < messages->size(); ++i) {
        const json& m = (*messages)[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
            !m.contains("text") || !m["text"].is_string()) {
            return failWith(
                QStringLiteral("message %1 has no \"role\" and \"text\" strings").arg(i));
        }
        Message message{qstr(m["role"]), qstr(m["text"]), {}, {}};
        if (const auto stats = m.find("stats"); stats != m.end() && stats->is_object()) {
            MessageStats& s = message.stats;
            s.promptTokens = stats->value("prompt_tokens", 0);
            s.generatedTokens = stats->value("generated_tokens", 0);
            s.prefillTokensPerSecond = stats->value("prefill_tokens_per_second", 0.0);
            s.decodeTokensPerSecond = stats->value("decode_tokens_per_second", 0.0);
            s.ttftMs = stats->value("ttft_ms", 0.0);
            s.stopReason = QString::fromStdString(stats->value("stop_reason", std::string()));
        }
        c.messages.push_back(std::move(message));
    }
    *conversation = std::move(c);
    return true;
}

} // namespace

bool conversationFromJson(const json& root, Conversation* conversation, QString* error) {
    // nlohmann's typed accessors throw on a wrong type; a bad file is a value, not a crash.
    try {
        return readConversation(root, conversation, error);
    } catch (const json::exception& e) {
        *error = QStringLiteral("unexpected value: %1").arg(QString::fromUtf8(e.what()));
        return false;
    }
}
