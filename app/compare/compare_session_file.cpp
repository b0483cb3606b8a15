// Compare sessions on disk: one JSON file per session under ~/.local/share/hearth/compare/,
// written atomically (QSaveFile), holding the columns' settings, the shared user messages
// and every column's replies, so that a reopened session can go on where it stopped.
#include "compare_controller.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QStandardPaths>

namespace {

constexpr int kFormatVersion = 1;

QString resolvePath(const QString& path) {
    if (path.contains(QLatin1Char('/'))) {
        return path;
    }
    const QString name = path.endsWith(QLatin1String(".json")) ? path : path + ".json";
    return CompareController::defaultDirectory() + QLatin1Char('/') + name;
}

} // namespace

QString CompareController::defaultDirectory() {
    // GenericDataLocation is $XDG_DATA_HOME (~/.local/share), as for the conversations.
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
           QStringLiteral("/hearth/compare");
}

QStringList CompareController::savedSessions() const {
    QStringList paths;
    const QDir dir(defaultDirectory());
    for (const QFileInfo& info :
         dir.entryInfoList({QStringLiteral("*.json")}, QDir::Files, QDir::Time)) {
        paths << info.absoluteFilePath();
    }
    return paths;
}

bool CompareController::saveSession(const QString& path) {
    if (path.trimmed().isEmpty()) {
        return refuse(QStringLiteral("give the compare session a name"));
    }
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish before saving"));
    }
    QJsonArray columns;
    for (const CompareColumn& c : m_columns.columns()) {
        columns.append(QJsonObject{
            {"model", c.modelPath}, // "" = the chat's model
            {"template", c.templateName},
            {"temperature", double(c.sampling.temperature)},
            {"top_p", double(c.sampling.top_p)},
            {"top_k", c.sampling.top_k},
            {"seed", QString::number(c.sampling.seed)},
            {"max_tokens", c.maxTokens},
            {"replies", QJsonArray::fromStringList(c.replies)},
        });
    }
    const QJsonObject root{{"version", kFormatVersion},
                           {"system_prompt", m_systemPrompt},
                           {"same_seed", m_sameSeed},
                           {"user_messages", QJsonArray::fromStringList(m_userMessages)},
                           {"columns", columns}};
    const QString file = resolvePath(path);
    QDir().mkpath(QFileInfo(file).absolutePath());
    QSaveFile out(file);
    if (!out.open(QIODevice::WriteOnly) || out.write(QJsonDocument(root).toJson()) < 0 ||
        !out.commit()) {
        return refuse(QStringLiteral("could not save %1: %2").arg(file, out.errorString()));
    }
    setError({});
    return true;
}

bool CompareController::openSession(const QString& path) {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish before opening a session"));
    }
    const QString file = resolvePath(path);
    QFile in(file);
    if (!in.open(QIODevice::ReadOnly)) {
        return refuse(QStringLiteral("could not open %1: %2").arg(file, in.errorString()));
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(in.readAll(), &parseError);
    if (!document.isObject()) {
        return refuse(
            QStringLiteral("%1 is not a compare session: %2").arg(file, parseError.errorString()));
    }
    const QJsonObject root = document.object();
    if (root.value("version").toInt() != kFormatVersion) {
        return refuse(QStringLiteral("%1: unsupported compare session version %2")
                          .arg(file)
                          .arg(root.value("version").toInt()));
    }
    QStringList users;
    for (const QJsonValue& value : root.value("user_messages").toArray()) {
        users << value.toString();
    }
    const QJsonArray array = root.value("columns").toArray();
    if (array.size() < kMinColumns || array.size() > kMaxColumns) {
        return refuse(QStringLiteral("%1: a compare session has %2 to %3 columns, not %4")
                          .arg(file)
                          .arg(kMinColumns)
                          .arg(kMaxColumns)
                          .arg(array.size()));
    }
    QList<CompareColumn> columns;
    for (qsizetype i = 0; i < array.size(); ++i) {
        const QJsonObject o = array[i].toObject();
        CompareColumn c;
        c.modelPath = o.value("model").toString(); // absent in older files: the chat's
        c.templateName = o.value("template").toString();
        c.sampling.temperature = float(o.value("temperature").toDouble(c.sampling.temperature));
        c.sampling.top_p = float(o.value("top_p").toDouble(c.sampling.top_p));
        c.sampling.top_k = o.value("top_k").toInt(c.sampling.top_k);
        bool seedOk = false;
        c.sampling.seed = o.value("seed").toString().toULongLong(&seedOk);
        c.maxTokens = o.value("max_tokens").toInt(c.maxTokens);
        for (const QJsonValue& reply : o.value("replies").toArray()) {
            c.replies << reply.toString();
        }
        auto valid = c.sampling.validate();
        if (!seedOk || !valid || c.maxTokens < 1 || c.replies.size() > users.size()) {
            return refuse(QStringLiteral("%1: column %2 is not valid%3")
                              .arg(file)
                              .arg(i + 1)
                              .arg(valid ? QString()
                                         : QStringLiteral(" (%1)").arg(
                                               QString::fromStdString(valid.error().message))));
        }
        if (!c.replies.isEmpty()) {
            c.reply = c.replies.last();
        }
        columns << c;
    }
    m_columns.resetColumns(columns);
    releaseUnusedModels();
    emit modelChoicesChanged();
    m_samplingEdited = true; // the session's settings, not the chat's
    m_userMessages = users;
    setSystemPrompt(root.value("system_prompt").toString());
    if (root.value("same_seed").toBool() != m_sameSeed) {
        m_sameSeed = !m_sameSeed;
        emit sameSeedChanged();
    }
    m_summaryText.clear();
    emit summaryChanged();
    emit conversationChanged();
    setError({});
    return true;
}
