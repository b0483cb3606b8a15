// The curated model catalog: parsing and plausibility checks.
#include "catalog.h"

#include "hearth/model.h"
#include "hearth/preflight.h"

#include <QFile>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <algorithm>

namespace {

std::expected<QString, QString> requireString(const QJsonObject& object, const char* key,
                                              const QString& where) {
    const QString value = object.value(QLatin1String(key)).toString().trimmed();
    if (value.isEmpty()) {
        return std::unexpected(QStringLiteral("%1: missing or empty \"%2\"").arg(where, key));
    }
    return value;
}

} // namespace

std::expected<QList<CatalogEntry>, QString> parseCatalog(const QByteArray& json, CatalogPart part) {
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError) {
        return std::unexpected(
            QStringLiteral("catalog: %1 at offset %2").arg(error.errorString()).arg(error.offset));
    }
    const QJsonArray models = document.object().value("models").toArray();
    if (models.isEmpty()) {
        return std::unexpected(QStringLiteral("catalog: no \"models\" array"));
    }
    static const QRegularExpression repoPattern(QStringLiteral(R"(^[\w.\-]+/[\w.\-]+$)"));
    static const QRegularExpression shaPattern(QStringLiteral("^[0-9a-f]{64}$"));
    QList<CatalogEntry> entries;
    QSet<QString> ids;
    for (qsizetype i = 0; i < models.size(); ++i) {
        const QJsonObject object = models[i].toObject();
        QString where = QStringLiteral("catalog entry %1").arg(i);
        CatalogEntry entry;
        const std::pair<QString*, const char*> strings[] = {{&entry.id, "id"},
                                                            {&entry.name, "name"},
                                                            {&entry.family, "family"},
                                                            {&entry.repo, "repo"},
                                                            {&entry.architecture, "architecture"},
                                                            {&entry.license, "license"},
                                                            {&entry.templateFamily, "template"},
                                                            {&entry.description, "description"}};
        for (const auto& [field, key] : strings) {
            auto value = requireString(object, key, where);
            if (!value) {
                return std::unexpected(value.error());
            }
            *field = *value;
            if (field == &entry.id) {
                where = QStringLiteral("catalog entry '%1'").arg(entry.id);
            }
        }
        if (ids.contains(entry.id.toLower())) {
            return std::unexpected(QStringLiteral("%1: duplicate id").arg(where));
        }
        ids.insert(entry.id.toLower());
        if (!repoPattern.match(entry.repo).hasMatch()) {
            return std::unexpected(
                QStringLiteral("%1: repo '%2' is not owner/name").arg(where, entry.repo));
        }
        entry.coming = part == CatalogPart::coming;
        entry.cannotRun = cannotRunArchitecture(entry.architecture);
        if (!entry.cannotRun.isEmpty() && !entry.coming) {
            return std::unexpected(QStringLiteral("%1: architecture '%2' is not one Hearth runs")
                                       .arg(where, entry.architecture));
        }
        entry.parameters = object.value("parameters").toInteger(0);
        if (entry.parameters < 10'000'000 || entry.parameters > 1'000'000'000'000) {
            return std::unexpected(
                QStringLiteral("%1: \"parameters\" must be between 10M and 1T").arg(where));
        }
        entry.contextLength = object.value("context_length").toInt(0);
        if (entry.contextLength < 512 || entry.contextLength > (1 << 21)) {
            return std::unexpected(
                QStringLiteral("%1: \"context_length\" must be between 512 and 2097152")
                    .arg(where));
        }
        const QJsonArray files = object.value("files").toArray();
        if (files.isEmpty()) {
            return std::unexpected(QStringLiteral("%1: no \"files\"").arg(where));
        }
        for (const QJsonValue& value : files) {
            const QJsonObject fileObject = value.toObject();
            CatalogFile file;
            auto name = requireString(fileObject, "file", where);
            auto quantization = requireString(fileObject, "quantization", where);
            if (!name || !quantization) {
                return std::unexpected(!name ? name.error() : quantization.error());
            }
            file.file = *name;
            file.quantization = *quantization;
            if (quantizationWeightTypes(file.quantization).isEmpty()) {
                return std::unexpected(QStringLiteral("%1: quantization '%2' of %3 is not a "
                                                      "llama.cpp mix Hearth knows")
                                           .arg(where, file.quantization, file.file));
            }
            file.cannotRun = cannotRunQuantization(file.quantization);
            if (!file.cannotRun.isEmpty() && !entry.coming) {
                return std::unexpected(
                    QStringLiteral("%1: %2 (%3)").arg(where, file.cannotRun, file.file));
            }
            if (!file.file.endsWith(QLatin1String(".gguf"))) {
                return std::unexpected(
                    QStringLiteral("%1: file '%2' is not a .gguf").arg(where, file.file));
            }
            file.size = fileObject.value("size").toInteger(-1);
            if (fileObject.contains("size") && file.size <= 0) {
                return std::unexpected(QStringLiteral("%1: bad size for %2").arg(where, file.file));
            }
            file.sha256 = fileObject.value("sha256").toString();
            if (!file.sha256.isEmpty() && !shaPattern.match(file.sha256).hasMatch()) {
                return std::unexpected(
                    QStringLiteral("%1: sha256 of %2 is not 64 lower-case hex digits")
                        .arg(where, file.file));
            }
            entry.files.append(file);
        }
        const QJsonValue recommended = object.value("recommended");
        if (!recommended.isUndefined() && !recommended.isBool()) {
            return std::unexpected(
                QStringLiteral("%1: \"recommended\" must be true or false").arg(where));
        }
        entry.recommended = recommended.toBool();
        if (entry.recommended && entry.coming) {
            return std::unexpected(
                QStringLiteral("%1: an entry Hearth cannot run yet is not \"recommended\"")
                    .arg(where));
        }
        if (entry.recommended && recommendedCatalogEntry(entries)) {
            return std::unexpected(
                QStringLiteral("%1: only one entry may be \"recommended\"").arg(where));
        }
        entries.append(entry);
    }
    return entries;
}

std::expected<QList<CatalogEntry>, QString> builtinCatalogPart(CatalogPart part) {
    const QString path = part == CatalogPart::shipped
                             ? QStringLiteral(":/hearth/catalog.json")
                             : QStringLiteral(":/hearth/catalog-coming.json");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return std::unexpected(QStringLiteral("the built-in catalog is missing (%1)").arg(path));
    }
    const QByteArray json = file.readAll();
    // The coming part may be empty: every model it held runs now.
    if (part == CatalogPart::coming &&
        QJsonDocument::fromJson(json).object().value("models").toArray().isEmpty()) {
        return QList<CatalogEntry>{};
    }
    auto entries = parseCatalog(json, part);
    if (!entries) {
        return std::unexpected(
            QStringLiteral("%1: %2").arg(path.mid(path.lastIndexOf('/') + 1), entries.error()));
    }
    return entries;
}

std::expected<QList<CatalogEntry>, QString> builtinCatalog() {
    auto shipped = builtinCatalogPart(CatalogPart::shipped);
    auto coming = builtinCatalogPart(CatalogPart::coming);
    if (!shipped || !coming) {
        return std::unexpected(!shipped ? shipped.error() : coming.error());
    }
    for (const CatalogEntry& entry : *coming) {
        if (findCatalogEntry(*shipped, entry.id)) {
            return std::unexpected(QStringLiteral("catalog entry '%1' is in both catalog.json and "
                                                  "catalog-coming.json")
                                       .arg(entry.id));
        }
    }
    return *shipped + *coming;
}

const CatalogEntry* findCatalogEntry(const QList<CatalogEntry>& catalog, const QString& id) {
    for (const CatalogEntry& entry : catalog) {
        if (entry.id.compare(id, Qt::CaseInsensitive) == 0) {
            return &entry;
        }
    }
    return nullptr;
}

const CatalogEntry* recommendedCatalogEntry(const QList<CatalogEntry>& catalog) {
    const auto it = std::find_if(catalog.cbegin(), catalog.cend(),
                                 [](const CatalogEntry& entry) { return entry.recommended; });
    return it == catalog.cend() ? nullptr : &*it;
}

QString cannotRunArchitecture(const QString& architecture) {
    if (hearth::architecture_supported(architecture.toStdString())) {
        return {};
    }
    return QStringLiteral("Hearth cannot run %1 models yet (it runs %2)")
        .arg(architecture,
             QString::fromUtf8(hearth::supported_architectures().data(),
                               static_cast<qsizetype>(hearth::supported_architectures().size())));
}

QList<hearth::TensorType> quantizationWeightTypes(const QString& quantization) {
    using T = hearth::TensorType;
    // llama-quant.cpp: each mix's default type, and the types its rules promote the output,
    // attention V and feed-forward down tensors to (Q6_K for the output of most mixes).
    static const QHash<QString, QList<T>> mixes = {
        {"F32", {T::F32}},
        {"F16", {T::F16}},
        {"BF16", {T::BF16}},
        {"Q8_0", {T::Q8_0}},
        {"Q6_K", {T::Q6_K}},
        {"Q5_K_M", {T::Q5_K, T::Q6_K}},
        {"Q5_K_S", {T::Q5_K, T::Q6_K}},
        {"Q5_0", {T::Q5_0, T::Q6_K}},
        {"Q5_1", {T::Q5_1, T::Q6_K}},
        {"Q4_K_M", {T::Q4_K, T::Q6_K}},
        {"Q4_K_S", {T::Q4_K, T::Q5_K, T::Q6_K}},
        {"Q4_0", {T::Q4_0, T::Q6_K}},
        {"Q4_1", {T::Q4_1, T::Q6_K}},
        {"Q3_K_L", {T::Q3_K, T::Q5_K, T::Q6_K}},
        {"Q3_K_M", {T::Q3_K, T::Q4_K, T::Q5_K, T::Q6_K}},
        {"Q3_K_S", {T::Q3_K, T::Q6_K}},
        {"Q2_K", {T::Q2_K, T::Q3_K, T::Q4_K, T::Q6_K}},
        {"IQ4_XS", {T::IQ4_XS, T::Q6_K}},
        {"IQ4_NL", {T::IQ4_NL, T::Q6_K}},
        {"IQ3_M", {T::IQ3_S, T::IQ4_XS, T::Q6_K}},
        {"IQ3_S", {T::IQ3_S, T::Q6_K}},
        {"IQ3_XS", {T::IQ3_XXS, T::IQ3_S, T::Q6_K}},
        {"IQ3_XXS", {T::IQ3_XXS, T::IQ3_S, T::Q6_K}},
        {"IQ2_M", {T::IQ2_S, T::IQ3_S, T::Q6_K}},
        {"IQ2_S", {T::IQ2_XS, T::IQ2_S, T::Q6_K}},
        {"IQ2_XS", {T::IQ2_XS, T::IQ3_S, T::Q6_K}},
        {"IQ2_XXS", {T::IQ2_XXS, T::IQ3_XXS, T::Q6_K}},
        {"IQ1_M", {T::IQ1_M, T::IQ2_XXS, T::Q6_K}},
        {"IQ1_S", {T::IQ1_S, T::IQ2_XXS, T::Q6_K}},
        {"TQ1_0", {T::TQ1_0, T::Q6_K}},
        {"TQ2_0", {T::TQ2_0, T::Q6_K}},
        // gpt-oss: the experts in MXFP4, the rest as the original's BF16 or Q8_0.
        {"MXFP4", {T::MXFP4, T::Q8_0}},
    };
    return mixes.value(quantization.toUpper());
}

QString cannotRunQuantization(const QString& quantization) {
    for (const hearth::TensorType type : quantizationWeightTypes(quantization)) {
        if (!hearth::weight_type_supported(type)) {
            return QStringLiteral("Hearth cannot compute with %1 weights yet")
                .arg(quantization.toUpper());
        }
    }
    return {};
}

qint64 estimatedFileSize(qint64 parameters, const QString& quantization) {
    // llama.cpp's bits per weight of each mix, kept once in the engine (the doctor's
    // smaller-quantization fix reads the same table).
    const auto bits = hearth::quantization_bits_per_weight(quantization.toStdString());
    if (!bits || parameters <= 0) {
        return -1;
    }
    return static_cast<qint64>(static_cast<double>(parameters) * *bits / 8.0);
}
