// Compare sessions on disk: one JSON file per session under ~/.local/share/hearth/compare/,
// written atomically (QSaveFile), holding the columns' settings, the shared user messages
// and every column's replies (with their reasoning), so that a reopened session can go on where it
// stopped. Read as hostile input: a regular file only, bounded in size and nesting, every value
// checked; a template is a name and a model a GGUF file that exists, never anything else.
#include "compare_controller.h"
#include "hearth/file_input.h"
#include "hearth/json_input.h"
#include "hearth/prompt.h"
#include "json_fields.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QStandardPaths>
#include <climits>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

namespace {

using json = nlohmann::ordered_json;

constexpr int kFormatVersion = 1;

QString resolvePath(const QString& path) {
    if (path.contains(QLatin1Char('/'))) {
        return path;
    }
    const QString name = path.endsWith(QLatin1String(".json")) ? path : path + ".json";
    return CompareController::defaultDirectory() + QLatin1Char('/') + name;
}

std::string utf8(const QString& text) {
    return text.toStdString();
}

QString qstr(const json& value) {
    return QString::fromStdString(value.get<std::string>());
}

// A list of strings at `key` (absent: empty); false when it is something else.
bool readStrings(const json& object, const char* key, QStringList* out) {
    const auto it = object.find(key);
    if (it == object.end()) {
        return true;
    }
    if (!it->is_array()) {
        return false;
    }
    for (const json& item : *it) {
        if (!item.is_string()) {
            return false;
        }
        *out << qstr(item);
    }
    return true;
}

// One column of a session file. Settings out of range are refused (the message says which);
// a template that is not a name or a model that is not a GGUF file here is replaced by the
// model's own template or the chat's model, which `notes` says.
bool readColumn(const json& o, int number, int userMessages, CompareColumn* column, QString* error,
                QStringList* notes) {
    auto refuse = [&](const QString& why) {
        *error = QStringLiteral("column %1: %2").arg(number).arg(why);
        return false;
    };
    if (!o.is_object()) {
        return refuse(QStringLiteral("not an object"));
    }
    CompareColumn c;
    auto string = [&](const char* key, QString* out) {
        const auto it = o.find(key);
        if (it != o.end() && !it->is_string()) {
            return false;
        }
        if (it != o.end()) {
            *out = qstr(*it);
        }
        return true;
    };
    QString seed = QString::number(c.sampling.seed);
    for (auto [key, out] :
         {std::pair{"model", &c.modelPath}, {"template", &c.templateName}, {"seed", &seed}}) {
        if (!string(key, out)) {
            return refuse(QStringLiteral("\"%1\" is not a string").arg(QLatin1String(key)));
        }
    }
    for (auto [key, out] :
         {std::pair{"temperature", &c.sampling.temperature}, {"top_p", &c.sampling.top_p}}) {
        if (const auto it = o.find(key); it != o.end()) {
            if (!it->is_number()) {
                return refuse(QStringLiteral("\"%1\" is not a number").arg(QLatin1String(key)));
            }
            *out = it->get<float>();
        }
    }
    for (auto [key, out, low, high] :
         {std::tuple{"top_k", &c.sampling.top_k, 0, INT_MAX},
          {"max_tokens", &c.maxTokens, 1, CompareColumnModel::kMaxTokens}}) {
        if (const auto it = o.find(key); it != o.end()) {
            const auto n = wholeNumberIn(*it, low, high);
            if (!n) {
                return refuse(QStringLiteral("\"%1\" is not a whole number from %2 to %3")
                                  .arg(QLatin1String(key))
                                  .arg(low)
                                  .arg(high));
            }
            *out = int(*n);
        }
    }
    bool seedOk = false;
    c.sampling.seed = seed.toULongLong(&seedOk);
    if (!seedOk) {
        return refuse(QStringLiteral("the seed \"%1\" is not a whole number").arg(seed.left(40)));
    }
    if (auto valid = c.sampling.validate(); !valid) {
        return refuse(QString::fromStdString(valid.error().message));
    }
    if (!readStrings(o, "replies", &c.replies)) {
        return refuse(QStringLiteral("\"replies\" is not a list of strings"));
    }
    if (c.replies.size() > userMessages) {
        return refuse(QStringLiteral("%1 replies to %2 user messages")
                          .arg(c.replies.size())
                          .arg(userMessages));
    }
    // Each reply's reasoning and the last one's token count: absent in files from before
    // reasoning was kept (no reasoning, then).
    if (!readStrings(o, "reasoning", &c.reasonings)) {
        return refuse(QStringLiteral("\"reasoning\" is not a list of strings"));
    }
    if (c.reasonings.size() > c.replies.size()) {
        return refuse(QStringLiteral("%1 reasonings for %2 replies")
                          .arg(c.reasonings.size())
                          .arg(c.replies.size()));
    }
    while (c.reasonings.size() < c.replies.size()) {
        c.reasonings << QString();
    }
    if (const auto it = o.find("reasoning_tokens"); it != o.end()) {
        const auto n = wholeNumberIn(*it, 0, CompareColumnModel::kMaxTokens);
        if (!n) {
            return refuse(QStringLiteral("\"reasoning_tokens\" is not a whole number from 0 to %1")
                              .arg(CompareColumnModel::kMaxTokens));
        }
        c.reasoningTokens = c.replies.isEmpty() ? 0 : int(*n);
    }
    // Names, never paths: the worker reads no template file (issue 16, item 11).
    if (!hearth::is_template_name(c.templateName.toStdString())) {
        *notes << QStringLiteral("column %1 named the template \"%2\", which is not a chat "
                                 "template name (a compare session names the model's own or a "
                                 "built-in template, never a file): it uses the model's own")
                      .arg(number)
                      .arg(c.templateName.left(200));
        c.templateName.clear();
    }
    // A model is loaded only when a message is sent; one that is not a regular file here (moved,
    // another machine's, a FIFO, a relative path) is not kept.
    if (!c.modelPath.isEmpty() &&
        (QFileInfo(c.modelPath).isRelative() || !QFileInfo(c.modelPath).isFile())) {
        *notes << QStringLiteral("column %1's model %2 is not a model file on this computer: it "
                                 "uses the chat's model")
                      .arg(number)
                      .arg(c.modelPath.left(400));
        c.modelPath.clear();
    }
    if (!c.replies.isEmpty()) {
        c.reply = c.replies.last();
        c.replyReasoning = c.reasonings.last();
    }
    *column = c;
    return true;
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
    json columns = json::array();
    for (const CompareColumn& c : m_columns.columns()) {
        json replies = json::array();
        for (const QString& reply : c.replies) {
            replies.push_back(utf8(reply));
        }
        json reasonings = json::array();
        for (const QString& reasoning : c.reasonings) {
            reasonings.push_back(utf8(reasoning));
        }
        columns.push_back({
            {"model", utf8(c.modelPath)}, // "" = the chat's model
            {"template", utf8(c.templateName)},
            {"temperature", double(c.sampling.temperature)},
            {"top_p", double(c.sampling.top_p)},
            {"top_k", c.sampling.top_k},
            {"seed", std::to_string(c.sampling.seed)},
            {"max_tokens", c.maxTokens},
            {"replies", std::move(replies)},
            {"reasoning", std::move(reasonings)},    // each reply's, "" when none
            {"reasoning_tokens", c.reasoningTokens}, // the last reply's
        });
    }
    json users = json::array();
    for (const QString& message : m_userMessages) {
        users.push_back(utf8(message));
    }
    const json root{{"version", kFormatVersion},
                    {"system_prompt", utf8(m_systemPrompt)},
                    {"same_seed", m_sameSeed},
                    {"user_messages", std::move(users)},
                    {"columns", std::move(columns)}};
    const std::string text = root.dump(2);
    const QString file = resolvePath(path);
    QDir().mkpath(QFileInfo(file).absolutePath());
    QSaveFile out(file);
    if (!out.open(QIODevice::WriteOnly) || out.write(text.data(), qint64(text.size())) < 0 ||
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
    // Regular files only, opened without blocking, bounded; JSON bounded in size and nesting.
    auto text = hearth::read_file_input(QFile::encodeName(file).toStdString(),
                                        "the compare session", size_t(kMaxSessionFileBytes));
    if (!text) {
        return refuse(QStringLiteral("could not open %1: %2")
                          .arg(file, QString::fromStdString(text.error().message)));
    }
    auto document = hearth::parse_json_input(
        *text, "the compare session",
        {.max_bytes = size_t(kMaxSessionFileBytes), .max_depth = kMaxSessionNesting});
    if (!document || !document->is_object()) {
        return refuse(QStringLiteral("%1 is not a compare session: %2")
                          .arg(file, document ? QStringLiteral("not a JSON object")
                                              : QString::fromStdString(document.error().message)));
    }
    const json& root = *document;
    const auto version = root.find("version");
    if (version == root.end() || !version->is_number_integer() ||
        version->get<int64_t>() != kFormatVersion) {
        return refuse(QStringLiteral("%1: unsupported compare session version %2")
                          .arg(file)
                          .arg(version == root.end() ? QStringLiteral("(none)")
                                                     : QString::fromStdString(version->dump())));
    }
    QStringList users;
    if (!readStrings(root, "user_messages", &users)) {
        return refuse(QStringLiteral("%1: \"user_messages\" is not a list of strings").arg(file));
    }
    const auto array = root.find("columns");
    const qsizetype count = array != root.end() && array->is_array() ? qsizetype(array->size()) : 0;
    if (count < kMinColumns || count > kMaxColumns) {
        return refuse(QStringLiteral("%1: a compare session has %2 to %3 columns, not %4")
                          .arg(file)
                          .arg(kMinColumns)
                          .arg(kMaxColumns)
                          .arg(count));
    }
    const auto systemPrompt = root.find("system_prompt");
    const auto sameSeed = root.find("same_seed");
    if ((systemPrompt != root.end() && !systemPrompt->is_string()) ||
        (sameSeed != root.end() && !sameSeed->is_boolean())) {
        return refuse(QStringLiteral("%1: \"system_prompt\" must be a string and \"same_seed\" "
                                     "true or false")
                          .arg(file));
    }
    QList<CompareColumn> columns;
    QStringList notes;
    for (qsizetype i = 0; i < count; ++i) {
        CompareColumn column;
        QString error;
        if (!readColumn((*array)[size_t(i)], int(i + 1), int(users.size()), &column, &error,
                        &notes)) {
            return refuse(QStringLiteral("%1: %2").arg(file, error));
        }
        columns << column;
    }
    m_columns.resetColumns(columns);
    releaseUnusedModels();
    emit modelChoicesChanged();
    m_samplingEdited = true; // the session's settings, not the chat's
    m_userMessages = users;
    setSystemPrompt(systemPrompt != root.end() ? qstr(*systemPrompt) : QString());
    if (const bool wanted = sameSeed != root.end() && sameSeed->get<bool>(); wanted != m_sameSeed) {
        m_sameSeed = wanted;
        emit sameSeedChanged();
    }
    m_summaryText.clear();
    emit summaryChanged();
    emit conversationChanged();
    // What was not taken as written, said where errors are (the session is open all the same).
    setError(notes.join(QLatin1Char('\n')));
    return true;
}
