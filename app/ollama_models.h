// The GGUF files Ollama downloaded, found through its manifests: Ollama keeps each model
// as content-addressed blobs (MODELS/blobs/sha256-HEX) and names them in manifests
// (MODELS/manifests/HOST/NAMESPACE/MODEL/TAG, JSON); the layer whose mediaType is
// application/vnd.ollama.image.model is the weights, a GGUF file for the models Hearth can
// run. Manifests are outside input: read with a size limit and hearth::parse_json_input, the
// digest checked to be a SHA-256 before it becomes a blob's name, and only blobs that are
// regular files starting with the GGUF magic are kept. A manifest that does not lead to one
// is skipped, with the reason noted.
#pragma once

#include "folder_walk.h"

#include <QList>
#include <QString>
#include <QStringList>

namespace OllamaModels {

struct Blob {
    QString path;      // MODELS/blobs/sha256-HEX
    QStringList names; // every tag naming it, sorted: "llama3.2:3b", "llama3.2:latest"
};

// $OLLAMA_MODELS, else ~/.ollama/models (as Ollama itself resolves it).
QString modelsDirectory();
// Where Ollama's Linux service (the install script's `ollama` user) keeps its models.
inline constexpr const char* kServiceModelsDirectory = "/usr/share/ollama/.ollama/models";

// "registry.ollama.ai/library/llama3.2/3b" -> "llama3.2:3b"; other namespaces and hosts are
// kept ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"), as `ollama list` shows them.
QString modelName(const QStringList& manifestSegments);

// The GGUF blobs that `modelsDirectory`'s manifests name, in name order, each blob once.
QList<Blob> find(const QString& modelsDirectory, FolderWalk& walk);

} // namespace OllamaModels
