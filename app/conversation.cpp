// Conversation values and their JSON form (format version 1).
#include "conversation.h"

#include "hearth/prompt.h"
#include "json_fields.h"

#include <QUuid>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>

using json = nlohmann::ordered_json;

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
    if (reasoningTokens > 0) {
        parts << QStringLiteral("answer %1 tokens").arg(generatedTokens - reasoningTokens);
        if (answerTokensPerSecond > 0) {
            parts << QStringLiteral("%1 tok/s").arg(answerTokensPerSecond, 0, 'f', 1);
        }
    } else {
        parts << QStringLiteral("%1 tokens").arg(generatedTokens);
        if (decodeTokensPerSecond > 0) {
            parts << QStringLiteral("%1 tok/s").arg(decodeTokensPerSecond, 0, 'f', 1);
        }
    }
    if (ttftMs > 0) {
        parts << QStringLiteral("first token %1 ms").arg(qRound(ttftMs));
    }
    if (!stopReason.isEmpty()) {
        parts << QStringLiteral("stopped: %1").arg(stopReason);
    }
    return parts.join(QStringLiteral(" · "));
}

QString MessageStats::answeredBy() const {
    if (endpoint.isEmpty()) {
        return {};
    }
    return model.isEmpty() ? endpoint : model + QStringLiteral(" · ") + endpoint;
}

QString MessageStats::thinkingSummary() const {
    if (reasoningTokens <= 0) {
        return {};
    }
    QStringList parts;
    parts << (reasoningMs >= 1000
                  ? QStringLiteral("Thought for %1 s").arg(reasoningMs / 1000.0, 0, 'f', 1)
                  : QStringLiteral("Thought for %1 ms").arg(qRound(reasoningMs)));
    parts << QStringLiteral("%1 tokens").arg(reasoningTokens);
    if (reasoningTokensPerSecond > 0) {
        parts << QStringLiteral("%1 tok/s").arg(reasoningTokensPerSecond, 0, 'f', 1);
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
        if (!message.reasoning.isEmpty()) {
            m["reasoning"] = utf8(message.reasoning);
        }
        if (!message.stats.isEmpty()) {
            const MessageStats& s = message.stats;
            m["stats"] = {{"prompt_tokens", s.promptTokens},
                          {"generated_tokens", s.generatedTokens},
                          {"prefill_tokens_per_second", s.prefillTokensPerSecond},
                          {"decode_tokens_per_second", s.decodeTokensPerSecond},
                          {"ttft_ms", s.ttftMs},
                          {"stop_reason", utf8(s.stopReason)}};
            if (s.reasoningTokens > 0) {
                m["stats"]["reasoning_tokens"] = s.reasoningTokens;
                m["stats"]["reasoning_ms"] = s.reasoningMs;
                m["stats"]["reasoning_tokens_per_second"] = s.reasoningTokensPerSecond;
                m["stats"]["answer_tokens_per_second"] = s.answerTokensPerSecond;
            }
            for (const auto& [key, value] :
                 {std::pair{"endpoint", &s.endpoint}, std::pair{"model", &s.model},
                  std::pair{"error", &s.error}}) {
                if (!value->isEmpty()) {
                    m["stats"][key] = utf8(*value);
                }
            }
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

// A message's statistics, which only the UI shows: counts are whole numbers from 0 to
// INT_MAX, rates and times finite and not negative. "" when they are, else what is wrong.
QString readStats(const json& stats, MessageStats* out) {
    MessageStats s;
    for (auto [key, target] : {std::pair{"prompt_tokens", &s.promptTokens},
                               {"generated_tokens", &s.generatedTokens},
                               {"reasoning_tokens", &s.reasoningTokens}}) {
        const auto it = stats.find(key);
        if (it == stats.end()) {
            continue;
        }
        const auto n = wholeNumberIn(*it, 0, INT_MAX);
        if (!n) {
            return QStringLiteral("its \"%1\" is not a whole number from 0 to %2")
                .arg(QLatin1String(key))
                .arg(INT_MAX);
        }
        *target = int(*n);
    }
    for (auto [key, target] : {std::pair{"prefill_tokens_per_second", &s.prefillTokensPerSecond},
                               {"decode_tokens_per_second", &s.decodeTokensPerSecond},
                               {"ttft_ms", &s.ttftMs},
                               {"reasoning_ms", &s.reasoningMs},
                               {"reasoning_tokens_per_second", &s.reasoningTokensPerSecond},
                               {"answer_tokens_per_second", &s.answerTokensPerSecond}}) {
        const auto it = stats.find(key);
        if (it == stats.end()) {
            continue;
        }
        if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0) {
            return QStringLiteral("its \"%1\" is not a number of 0 or more")
                .arg(QLatin1String(key));
        }
        *target = it->get<double>();
    }
    if (const auto it = stats.find("stop_reason"); it != stats.end()) {
        if (!it->is_string()) {
            return QStringLiteral("its \"stop_reason\" is not a string");
        }
        s.stopReason = qstr(*it);
    }
    for (const auto& [key, target] : {std::pair{"endpoint", &s.endpoint},
                                      std::pair{"model", &s.model}, std::pair{"error", &s.error}}) {
        if (const auto it = stats.find(key); it != stats.end()) {
            if (!it->is_string()) {
                return QStringLiteral("its \"%1\" is not a string").arg(QLatin1String(key));
            }
            *target = qstr(*it);
        }
    }
    if (s.reasoningTokens > s.generatedTokens) {
        return QStringLiteral("its \"reasoning_tokens\" is more than its \"generated_tokens\"");
    }
    *out = s;
    return {};
}

bool readConversation(const json& root, Conversation* conversation, QString* error,
                      QString* notice) {
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
    // A name, never a path: an old file's path is not opened (issue 16, item 11).
    if (!hearth::is_template_name(c.templateName.toStdString())) {
        if (notice) {
            *notice = QStringLiteral("its template \"%1\" is not a chat template name (a "
                                     "conversation names the model's own or a built-in "
                                     "template, never a file); it uses the model's own "
                                     "template")
                          .arg(c.templateName.left(200));
        }
        c.templateName.clear();
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
        if (message.role != QLatin1String("user") && message.role != QLatin1String("assistant")) {
            return failWith(QStringLiteral("message %1 has the role \"%2\"; a conversation "
                                           "holds \"user\" and \"assistant\" messages")
                                .arg(i)
                                .arg(message.role.left(40)));
        }
        if (const auto reasoning = m.find("reasoning"); reasoning != m.end()) {
            if (!reasoning->is_string() || message.role != QLatin1String("assistant")) {
                return failWith(QStringLiteral("message %1 has a \"reasoning\" that is not an "
                                               "assistant reply's text")
                                    .arg(i));
            }
            message.reasoning = qstr(*reasoning);
        }
        if (const auto stats = m.find("stats"); stats != m.end() && stats->is_object()) {
            if (QString bad = readStats(*stats, &message.stats); !bad.isEmpty()) {
                return failWith(QStringLiteral("message %1: %2").arg(i).arg(bad));
            }
        }
        c.messages.push_back(std::move(message));
    }
    *conversation = std::move(c);
    return true;
}

} // namespace

bool conversationFromJson(const json& root, Conversation* conversation, QString* error,
                          QString* notice) {
    // nlohmann's typed accessors throw on a wrong type; a bad file is a value, not a crash.
    try {
        return readConversation(root, conversation, error, notice);
    } catch (const json::exception& e) {
        *error = QStringLiteral("unexpected value: %1").arg(QString::fromUtf8(e.what()));
        return false;
    }
}
