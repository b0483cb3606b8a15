// Ollama's manifests read into the GGUF blobs they name.
#include "ollama_models.h"

#include "hearth/json_input.h"

#include <QDir>
#include <QMap>
#include <QRegularExpression>
#include <string_view>

namespace {

constexpr const char* kModelLayer = "application/vnd.ollama.image.model";
constexpr const char* kDefaultRegistry = "registry.ollama.ai";
constexpr const char* kDefaultNamespace = "library";
// HOST/NAMESPACE/MODEL/TAG below manifests/.
constexpr int kManifestDepth = 4;

// The blob a manifest's model layer names, or why there is none.
struct LayerBlob {
    QString path;
    QString problem;
};

LayerBlob modelBlob(const QByteArray& text, const QString& blobs) {
    const auto json = hearth::parse_json_input(std::string_view(text.constData(), text.size()),
                                               "the Ollama manifest");
    if (!json) {
        return {{}, QString::fromStdString(json.error().message)};
    }
    const auto layers = json->find("layers");
    if (!json->is_object() || layers == json->end() || !layers->is_array()) {
        return {{}, QStringLiteral("no \"layers\" array")};
    }
    for (const auto& layer : *layers) {
        const auto mediaType = layer.is_object() ? layer.find("mediaType") : layer.end();
        if (!layer.is_object() || mediaType == layer.end() || !mediaType->is_string() ||
            mediaType->get<std::string>() != kModelLayer) {
            continue;
        }
        const auto digest = layer.find("digest");
        const QString value = digest != layer.end() && digest->is_string()
                                  ? QString::fromStdString(digest->get<std::string>())
                                  : QString();
        // The digest becomes a file name: only a SHA-256 in hex, never a path.
        static const QRegularExpression sha256(QStringLiteral("^sha256:([0-9a-f]{64})$"));
        const QRegularExpressionMatch match = sha256.match(value);
        if (!match.hasMatch()) {
            return {{}, QStringLiteral("the model layer's digest is not sha256:<64 hex digits>")};
        }
        // sha256-HEX since Ollama 0.1.34; sha256:HEX before.
        const QString hex = match.captured(1);
        for (const QString& name :
             {QStringLiteral("sha256-") + hex, QStringLiteral("sha256:") + hex}) {
            const QString path = blobs + QLatin1Char('/') + name;
            if (QFileInfo::exists(path)) {
                QString problem;
                if (!FileCheck::isGgufFile(path, &problem)) {
                    return {{}, QStringLiteral("its model blob %1 is %2").arg(name, problem)};
                }
                return {path, {}};
            }
        }
        return {{}, QStringLiteral("its model blob sha256-%1 is missing").arg(hex)};
    }
    return {{}, QStringLiteral("no layer of type %1").arg(QLatin1String(kModelLayer))};
}

} // namespace

namespace OllamaModels {

QString modelsDirectory() {
    const QString fromEnv = qEnvironmentVariable("OLLAMA_MODELS");
    return fromEnv.isEmpty() ? QDir::homePath() + QLatin1String("/.ollama/models") : fromEnv;
}

QString modelName(const QStringList& segments) {
    if (segments.size() != kManifestDepth) {
        return segments.join(QLatin1Char('/'));
    }
    const QString& host = segments[0];
    const QString& space = segments[1];
    const QString nameAndTag = segments[2] + QLatin1Char(':') + segments[3];
    if (host != QLatin1String(kDefaultRegistry)) {
        return QStringLiteral("%1/%2/%3").arg(host, space, nameAndTag);
    }
    return space == QLatin1String(kDefaultNamespace) ? nameAndTag : space + '/' + nameAndTag;
}

QList<Blob> find(const QString& modelsDirectory, FolderWalk& walk) {
    const QString blobs = modelsDirectory + QLatin1String("/blobs");
    QMap<QString, Blob> byBlob; // canonical path: two tags often name one blob
    walk.walk(modelsDirectory + QLatin1String("/manifests"), kManifestDepth - 1,
              [&](const QFileInfo& entry, const QStringList& segments) {
                  const QString path = entry.filePath();
                  if (segments.size() != kManifestDepth) {
                      walk.note(path, QStringLiteral("skipped: not at manifests/HOST/NAMESPACE/"
                                                     "MODEL/TAG"));
                      return;
                  }
                  QString problem;
                  const QByteArray text =
                      FileCheck::readSmallFile(path, walk.limits().maxManifestBytes, &problem);
                  const LayerBlob blob =
                      problem.isEmpty() ? modelBlob(text, blobs) : LayerBlob{{}, problem};
                  if (blob.path.isEmpty()) {
                      walk.note(path, QStringLiteral("Ollama manifest skipped: ") + blob.problem);
                      return;
                  }
                  Blob& found = byBlob[QFileInfo(blob.path).canonicalFilePath()];
                  found.path = blob.path;
                  found.names << modelName(segments);
              });
    QList<Blob> out;
    for (Blob& blob : byBlob) {
        blob.names.sort(Qt::CaseInsensitive);
        out.append(std::move(blob));
    }
    std::sort(out.begin(), out.end(), [](const Blob& a, const Blob& b) {
        return QString::compare(a.names.first(), b.names.first(), Qt::CaseInsensitive) < 0;
    });
    return out;
}

} // namespace OllamaModels
