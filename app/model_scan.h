// Finding local GGUF models and reading what they are from their headers alone: Hearth's
// models directory, folders the user adds, and the GGUF files other apps downloaded (the
// Hugging Face hub cache, LM Studio, GPT4All, Ollama), listed and loaded where they are,
// never copied. Plain functions, safe on any thread (ModelLibrary runs them on its scanning
// thread); they touch no Qt object and never throw. A file that cannot be read is listed
// with its error; what is not a model file at all (a FIFO, a broken Ollama manifest) is
// skipped with a note. The walk is bounded (folder_walk.h, ScanLimits).
#pragma once

#include "folder_walk.h"
#include "hearth/model_info.h"

#include <QList>
#include <QMetaType>
#include <QString>
#include <functional>
#include <optional>

struct LocalModel {
    QString path; // the file to load: the first part of a split model, an Ollama blob
    // The file's name without ".gguf" (and without the part suffix); an Ollama model's name
    // ("llama3.2:3b").
    QString name;
    QString source; // "Hearth", "Folder", or the app: "Hugging Face", "LM Studio", ...
    QString repo;   // Hugging Face repository ("org/name"), for the cache's files
    // Where it came from, for people: "from LM Studio", "from Ollama: llama3.2:3b".
    QString origin;
    bool otherApp = false; // found in another app's folder, not Hearth's or the user's
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
    enum class Layout {
        Folder,           // *.gguf anywhere below path
        HuggingFaceCache, // models--OWNER--NAME/snapshots/*/**.gguf below path
        Ollama,           // blobs named by manifests/HOST/NAMESPACE/MODEL/TAG (ollama_models.h)
    };
    QString path;
    QString source; // "Hearth", "Folder", "Hugging Face", "LM Studio", "GPT4All", "Ollama"
    Layout layout = Layout::Folder;
    bool otherApp = false;
};

struct ScanResult {
    QList<LocalModel> models;
    QStringList skipped; // "PATH: why", for the log
};

Q_DECLARE_METATYPE(LocalModel)
Q_DECLARE_METATYPE(QList<LocalModel>)
Q_DECLARE_METATYPE(QList<ScanRoot>)
Q_DECLARE_METATYPE(ScanResult)

namespace ModelScan {

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (huggingface_hub's rule).
QString huggingFaceCacheDirectory();

// Where other apps keep the GGUF files they downloaded, as the environment and $HOME say:
// the Hugging Face cache; LM Studio's ~/.lmstudio/models and its older
// ~/.cache/lm-studio/models; GPT4All's $XDG_DATA_HOME/nomic.ai/GPT4All; Ollama's
// $OLLAMA_MODELS, else ~/.ollama/models and its Linux service's folder.
QList<ScanRoot> otherAppRoots();

// Every model under `roots`, in root order then by name. The same file reached twice (two
// snapshots sharing a blob, a folder added twice, two Ollama tags) is listed once; a split
// model ("-00001-of-00003.gguf") is listed once, by its first part, with every part's size.
// `stop`, when set, is asked as the walk goes; true ends it early (the result is partial).
ScanResult scan(const QList<ScanRoot>& roots, const ScanLimits& limits = {},
                const std::function<bool()>& stop = {});

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
