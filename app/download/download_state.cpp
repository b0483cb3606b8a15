// Resume state of one download: a small JSON file next to NAME.part.
#include "download_state.h"

#include "hearth/file_input.h"
#include "hearth/json_input.h"
#include "http_policy.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

namespace {

const QLatin1String kStateSuffix(".part.json");

std::string jsonString(const nlohmann::ordered_json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

std::expected<QString, QString> DownloadState::destinationIn(const QString& directory,
                                                             const QUrl& url) {
    const QString name = QFileInfo(url.path()).fileName();
    const auto refuse = [&](const QString& why) {
        return std::unexpected(QStringLiteral("cannot save %1 under the name '%2': %3")
                                   .arg(url.adjusted(QUrl::RemoveQuery).toString(), name, why));
    };
    if (name.isEmpty() || name == QLatin1String(".") || name == QLatin1String("..")) {
        return refuse(QStringLiteral("the URL does not end with a file name"));
    }
    for (const QChar c : name) {
        if (c == '/' || c == '\\' || c.unicode() < 0x20 || c.unicode() == 0x7f) {
            return refuse(QStringLiteral("it holds a path separator or a control character"));
        }
    }
    if (name.toUtf8().size() > kMaxFileNameBytes) {
        return refuse(QStringLiteral("it is longer than %1 bytes").arg(kMaxFileNameBytes));
    }
    return QDir(directory).absoluteFilePath(name);
}

bool DownloadState::sameTarget(const DownloadState& other) const {
    return url == other.url && expectedSize == other.expectedSize &&
           sha256.compare(other.sha256, Qt::CaseInsensitive) == 0;
}

QString DownloadState::save() const {
    // "destination" is written for whoever reads the file; loading takes it from the file name.
    QJsonObject object{{"url", url.toString()},
                       {"destination", destination},
                       {"size", expectedSize},
                       {"sha256", sha256},
                       {"group", group}};
    QSaveFile file(statePath(destination));
    if (!file.open(QIODevice::WriteOnly)) {
        return QStringLiteral("cannot write %1: %2").arg(file.fileName(), file.errorString());
    }
    file.write(QJsonDocument(object).toJson(QJsonDocument::Compact));
    if (!file.commit()) {
        return QStringLiteral("cannot write %1: %2").arg(file.fileName(), file.errorString());
    }
    return {};
}

std::optional<DownloadState> DownloadState::loadFile(const QString& stateFile) {
    if (!stateFile.endsWith(kStateSuffix)) {
        return std::nullopt;
    }
    // A regular file only (a FIFO would block the read), and a small one.
    const auto text = hearth::read_file_input(QFile::encodeName(stateFile).toStdString(),
                                              "a download's state file", kMaxStateFileBytes);
    if (!text) {
        return std::nullopt;
    }
    const auto document = hearth::parse_json_input(
        *text, "a download's state file",
        hearth::JsonLimits{.max_bytes = kMaxStateFileBytes, .max_depth = 8});
    if (!document || !document->is_object()) {
        return std::nullopt;
    }
    DownloadState state;
    state.url = QUrl(QString::fromStdString(jsonString(*document, "url")));
    state.destination = stateFile.chopped(kStateSuffix.size());
    const auto size = document->find("size");
    state.expectedSize =
        size != document->end() && size->is_number_integer() && size->get<int64_t>() >= 0
            ? size->get<int64_t>()
            : -1;
    state.sha256 = QString::fromStdString(jsonString(*document, "sha256"));
    state.group = QString::fromStdString(jsonString(*document, "group"));
    if (!HttpPolicy::isHttp(state.url) || QFileInfo(state.destination).fileName().isEmpty()) {
        return std::nullopt;
    }
    return state;
}

std::optional<DownloadState> DownloadState::load(const QString& destination) {
    return loadFile(statePath(destination));
}

void DownloadState::remove(const QString& destination) {
    QFile::remove(statePath(destination));
}
