// The curated model catalog: parsing and plausibility checks.
#include "catalog.h"

#include "hearth/model.h"

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

std::expected<QList<CatalogEntry>, QString> parseCatalog(const QByteArray& json) {
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
        if (!hearth::architecture_supported(entry.architecture.toStdString())) {
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
        if (entry.recommended && recommendedCatalogEntry(entries)) {
            return std::unexpected(
                QStringLiteral("%1: only one entry may be \"recommended\"").arg(where));
        }
        entries.append(entry);
    }
    return entries;
}

std::expected<QList<CatalogEntry>, QString> builtinCatalog() {
    QFile file(QStringLiteral(":/hearth/catalog.json"));
    if (!file.open(QIODevice::ReadOnly)) {
        return std::unexpected(
            QStringLiteral("the built-in catalog is missing (:/hearth/catalog.json)"));
    }
    return parseCatalog(file.readAll());
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

qint64 estimatedFileSize(qint64 parameters, const QString& quantization) {
    static const QHash<QString, double> bitsPerWeight = {
        {"F32", 32.0},    {"F16", 16.0},    {"BF16", 16.0},   {"Q8_0", 8.5},   {"Q6_K", 6.56},
        {"Q5_K_M", 5.7},  {"Q5_K_S", 5.54}, {"Q5_0", 5.5},    {"Q5_1", 6.0},   {"Q4_K_M", 4.89},
        {"Q4_K_S", 4.58}, {"Q4_0", 4.5},    {"Q4_1", 5.0},    {"Q4", 4.89},    {"Q3_K_M", 3.91},
        {"Q3_K_L", 4.27}, {"Q3_K_S", 3.5},  {"IQ4_XS", 4.25}, {"IQ3_XS", 3.3}, {"IQ3_M", 3.66},
        {"Q2_K", 2.96},   {"IQ2_XS", 2.31}, {"IQ2_M", 2.7},
    };
    const auto it = bitsPerWeight.constFind(quantization.toUpper());
    if (it == bitsPerWeight.constEnd() || parameters <= 0) {
        return -1;
    }
    return static_cast<qint64>(static_cast<double>(parameters) * *it / 8.0);
}
