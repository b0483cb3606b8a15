// The curated model catalog (resources/catalog.json, compiled in as :/hearth/catalog.json):
// real chat models with their Hugging Face repository and files, parsed and checked.
#pragma once

#include <QList>
#include <QString>
#include <expected>

struct CatalogFile {
    QString quantization; // Q4_K_M, Q8_0, ...
    QString file;         // path in the repository; a split file names its first part
    qint64 size = -1;     // bytes, -1 when the catalog leaves it to the API
    QString sha256;       // empty when the catalog leaves it to the API
};

struct CatalogEntry {
    QString id;   // short, stable: "qwen2.5-7b-instruct"
    QString name; // "Qwen2.5 7B Instruct"
    QString family;
    QString repo;
    QString architecture; // general.architecture of its files, as llama.cpp writes it: llama, qwen2
    qint64 parameters = 0;
    int contextLength = 0;
    QString license;
    QString templateFamily; // chatml, llama3, mistral, gemma, phi3, ...
    QString description;
    QList<CatalogFile> files;
    // What a new user is offered first (the empty state's one-click download): its first
    // file. At most one entry is recommended.
    bool recommended = false;
};

// Parses and checks a catalog: every required field present, values plausible (repository
// owner/name, files *.gguf, 10M to 1T parameters, context 512 to 2M tokens, SHA-256 as 64
// hex digits), an architecture the engine runs (no entry a user could download and then
// not load), ids unique. The message names the entry and the field.
std::expected<QList<CatalogEntry>, QString> parseCatalog(const QByteArray& json);
// The catalog compiled into the binary.
std::expected<QList<CatalogEntry>, QString> builtinCatalog();
// The entry with `id` (case-insensitive), or nullptr.
const CatalogEntry* findCatalogEntry(const QList<CatalogEntry>& catalog, const QString& id);
// The entry marked "recommended", or nullptr.
const CatalogEntry* recommendedCatalogEntry(const QList<CatalogEntry>& catalog);

// An estimate of a file's size from the parameter count and the quantization's average bits
// per weight (llama.cpp's figures for its mixes: Q4_K_M 4.89, Q8_0 8.5, ...), for the fit
// badge before the API has given the real size. -1 for an unknown quantization.
qint64 estimatedFileSize(qint64 parameters, const QString& quantization);
