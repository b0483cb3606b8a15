// Resume state of one download: a small JSON file next to NAME.part.
#include "download_state.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

bool DownloadState::sameTarget(const DownloadState& other) const {
    return url == other.url && expectedSize == other.expectedSize &&
           sha256.compare(other.sha256, Qt::CaseInsensitive) == 0;
}

QString DownloadState::save() const {
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
    QFile file(stateFile);
    if (!file.open(QIODevice::ReadOnly)) {
        return std::nullopt;
    }
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll());
    if (!document.isObject()) {
        return std::nullopt;
    }
    const QJsonObject object = document.object();
    DownloadState state;
    state.url = QUrl(object.value("url").toString());
    state.destination = object.value("destination").toString();
    state.expectedSize = object.value("size").toInteger(-1);
    state.sha256 = object.value("sha256").toString();
    state.group = object.value("group").toString();
    if (!state.url.isValid() || state.destination.isEmpty()) {
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
