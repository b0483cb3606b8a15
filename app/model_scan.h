// Finding local GGUF models and reading what they are from their headers alone: Hearth's
// models directory, the Hugging Face hub cache, and folders the user adds. Plain functions,
// safe on any thread (ModelLibrary runs them on its scanning thread); they touch no Qt
// object and never throw. A file that cannot be read is listed with its error.
#pragma once

#include "hearth/model_info.h"

#include <QList>
#include <QMetaType>
#include <QString>
#include <optional>

struct LocalModel {
    QString path;   // the file to load: the first part of a split model
    QString name;   // the file's name without ".gguf" (and without the part suffix)
    QString source; // "Hearth", "Hugging Face" or "Folder"
    QString repo;   // Hugging Face repository ("org/name"), for the cache's files
    QString architecture;
    QString quantization; // "Q4_1", or the largest tensor type when general.file_type is absent
    qint64 fileSize = 0;  // every part together
    int parts = 1;
    qint64 parameters = 0;
    int trainedContext = 0;
    QString error;                         // why the header could not be read
    std::optional<hearth::ModelInfo> info; // for the memory arithmetic; absent on error
};

struct ScanRoot {
    QString path;
    QString source;
    bool huggingFaceCache = false; // models--*/snapshots/*/*.gguf below path
};

Q_DECLARE_METATYPE(LocalModel)
Q_DECLARE_METATYPE(QList<LocalModel>)
Q_DECLARE_METATYPE(QList<ScanRoot>)

namespace ModelScan {

// $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (huggingface_hub's rule).
QString huggingFaceCacheDirectory();

// Every model under `roots`, in root order then by name. The same file reached twice (two
// snapshots sharing a blob, a folder added twice) is listed once; a split model
// ("-00001-of-00003.gguf") is listed once, by its first part, with every part's size.
QList<LocalModel> scan(const QList<ScanRoot>& roots);

// Reads one model's header (and, for a split model, the other parts' tensor tables).
LocalModel inspect(const QString& path, const QString& source);

// For "name-00002-of-00005.gguf": part 2 of 5; nullopt for a file that is not a part.
struct SplitPart {
    QString stem; // "name"
    int index = 0;
    int count = 0;
};
std::optional<SplitPart> splitPart(const QString& fileName);

} // namespace ModelScan
