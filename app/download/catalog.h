// The curated model catalog (resources/catalog.json, compiled in as :/hearth/catalog.json):
// real chat models with their Hugging Face repository and files, parsed and checked.
//
// resources/catalog-coming.json (:/hearth/catalog-coming.json) holds the entries of models
// that Hearth cannot run yet (an architecture or a weight type being added): the Download tab
// lists them disabled, saying why, and `hearth-cli pull` refuses them without --force.
// tst_catalog fails as soon as the engine runs one of them, naming it: the entry then moves
// into catalog.json (scripts/catalog-promote does it), where every entry must run.
#pragma once

#include "hearth/tensor_type.h"

#include <QList>
#include <QString>
#include <expected>

struct CatalogFile {
    QString quantization; // Q4_K_M, Q8_0, ...
    QString file;         // path in the repository; a split file names its first part
    qint64 size = -1;     // bytes, -1 when the catalog leaves it to the API
    QString sha256;       // empty when the catalog leaves it to the API
    // Why Hearth cannot compute with this quantization's weights yet; empty when it can.
    QString cannotRun;
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
    // Why Hearth cannot run this model yet (its architecture); empty when it can. Only
    // entries of catalog-coming.json have one.
    QString cannotRun;
    bool coming = false; // from catalog-coming.json
};

// Which file a catalog is: the shipped one, where every entry must run, or the coming one.
enum class CatalogPart { shipped, coming };

// Parses and checks a catalog: every required field present, values plausible (repository
// owner/name, files *.gguf, 10M to 1T parameters, context 512 to 2M tokens, SHA-256 as 64
// hex digits), ids unique. In the shipped part, every entry's architecture and every file's
// quantization are ones the engine runs (no entry a user could download and then not load);
// in the coming part they may not be (cannotRun says why), and no entry is recommended. The
// message names the entry and the field.
std::expected<QList<CatalogEntry>, QString> parseCatalog(const QByteArray& json,
                                                         CatalogPart part = CatalogPart::shipped);
// The catalog compiled into the binary: the shipped entries, then the coming ones.
std::expected<QList<CatalogEntry>, QString> builtinCatalog();
// One compiled-in part alone (tests).
std::expected<QList<CatalogEntry>, QString> builtinCatalogPart(CatalogPart part);
// The entry with `id` (case-insensitive), or nullptr.
const CatalogEntry* findCatalogEntry(const QList<CatalogEntry>& catalog, const QString& id);
// The entry marked "recommended", or nullptr.
const CatalogEntry* recommendedCatalogEntry(const QList<CatalogEntry>& catalog);

// Why Hearth cannot run models of `architecture` (general.architecture), said the same way
// everywhere: "Hearth cannot run qwen3moe models yet (it runs llama, mistral, qwen2, qwen3,
// gemma3)". Empty when it runs them.
QString cannotRunArchitecture(const QString& architecture);
// Why Hearth cannot compute with a quantization's weights ("Hearth cannot compute with IQ2_XS
// weights yet"), from the types llama.cpp writes for that mix (quantizationWeightTypes).
// Empty when it can, or when the quantization is not one of those known.
QString cannotRunQuantization(const QString& quantization);
// The GGML types that make up a file of this llama.cpp mix ("Q4_K_M": Q4_K and Q6_K), as
// llama-quant.cpp writes them, its fallbacks for odd shapes aside; empty when unknown.
QList<hearth::TensorType> quantizationWeightTypes(const QString& quantization);

// An estimate of a file's size from the parameter count and the quantization's average bits
// per weight (llama.cpp's figures for its mixes: Q4_K_M 4.89, Q8_0 8.5, ...), for the fit
// badge before the API has given the real size. -1 for an unknown quantization.
qint64 estimatedFileSize(qint64 parameters, const QString& quantization);
