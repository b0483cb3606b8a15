// The curated catalog (resources/catalog.json): every entry complete and plausible, its
// template one of the engine's built-ins, its architecture and quantizations ones the engine
// runs (no model a user could download and then not load), and the reader's errors naming
// the problem. The coming part (resources/catalog-coming.json): every entry still one Hearth
// cannot run, else the test names it and says to move it into catalog.json.
#include "catalog.h"
#include "hearth/chat_template.h"
#include "hearth/model.h"
#include "hf_api.h"

#include <QSet>
#include <QtTest>
#include <algorithm>
#include <limits>

class TestCatalog : public QObject {
    Q_OBJECT

private slots:
    void builtinCatalogIsComplete() {
        auto catalog = builtinCatalog();
        QVERIFY2(catalog, catalog ? "" : qPrintable(catalog.error()));
        QVERIFY(catalog->size() >= 12);
        QSet<QString> families;
        qint64 smallest = std::numeric_limits<qint64>::max();
        qint64 largest = 0;
        for (const CatalogEntry& entry : *catalog) {
            families.insert(entry.family);
            smallest = std::min(smallest, entry.parameters);
            largest = std::max(largest, entry.parameters);
            // One file where the model has one native form (gpt-oss's MXFP4), else a choice.
            QVERIFY2(entry.files.size() >= 1 && entry.files.size() <= 3, qPrintable(entry.id));
            QVERIFY2(entry.files.size() >= 2 || entry.files[0].quantization == "MXFP4",
                     qPrintable(entry.id));
            // The template family named is one of the engine's built-ins (a coming entry's is
            // checked once it moves into catalog.json: gpt-oss's harmony is being added).
            QVERIFY2(entry.coming ||
                         hearth::find_builtin_template(entry.templateFamily.toStdString()),
                     qPrintable(entry.id + QStringLiteral(": no built-in template ") +
                                entry.templateFamily));
            for (const CatalogFile& file : entry.files) {
                // The quantization named is the one in the file name.
                QCOMPARE(HfApi::quantizationFromName(file.file), file.quantization.toUpper());
            }
        }
        QVERIFY(families.size() >= 8);
        QVERIFY(smallest <= 150'000'000);
        QVERIFY(largest >= 70'000'000'000);
        QVERIFY(findCatalogEntry(*catalog, "SMOLLM2-135M-INSTRUCT"));
        QVERIFY(!findCatalogEntry(*catalog, "no-such-model"));
    }

    // Every shipped entry names the architecture its files carry (general.architecture), and
    // the engine runs it and every quantization it offers.
    void everyArchitectureIsOneTheEngineRuns() {
        auto catalog = builtinCatalogPart(CatalogPart::shipped);
        QVERIFY2(catalog, catalog ? "" : qPrintable(catalog.error()));
        QSet<QString> architectures;
        for (const CatalogEntry& entry : *catalog) {
            QVERIFY2(!entry.architecture.isEmpty(), qPrintable(entry.id));
            QVERIFY2(hearth::architecture_supported(entry.architecture.toStdString()),
                     qPrintable(entry.id + ": " + entry.architecture));
            QVERIFY2(entry.cannotRun.isEmpty() && !entry.coming, qPrintable(entry.id));
            for (const CatalogFile& file : entry.files) {
                QVERIFY2(file.cannotRun.isEmpty(), qPrintable(entry.id + ": " + file.file));
                const auto types = quantizationWeightTypes(file.quantization);
                QVERIFY2(!types.isEmpty(), qPrintable(file.file));
                for (const hearth::TensorType type : types) {
                    QVERIFY2(hearth::weight_type_supported(type),
                             qPrintable(entry.id + ": " + file.file));
                }
            }
            architectures.insert(entry.architecture);
        }
        // The families llama.cpp writes for these models: SmolLM2, Llama and Mistral (Small
        // 3.2 converted as Llama too) are "llama", Qwen2.5 and the DeepSeek-R1 distills
        // "qwen2", Qwen3 "qwen3", Gemma 3 "gemma3".
        // (More join them as coming entries move in.)
        QVERIFY(architectures.contains(QSet<QString>({"llama", "qwen2", "qwen3", "gemma3"})));
        QCOMPARE(findCatalogEntry(*catalog, "qwen2.5-7b-instruct")->architecture, "qwen2");
        QCOMPARE(findCatalogEntry(*catalog, "gemma-3-4b-it")->architecture, "gemma3");
        QCOMPARE(findCatalogEntry(*catalog, "gemma-4-e4b-it")->architecture, "gemma4");
        QCOMPARE(findCatalogEntry(*catalog, "qwen3-8b")->architecture, "qwen3");
        QCOMPARE(findCatalogEntry(*catalog, "deepseek-r1-distill-qwen-7b")->architecture, "qwen2");
        // What people pick: each of these is offered.
        for (const char* id :
             {"qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b",
              "gemma-3-270m-it", "gemma-3-1b-it", "gemma-3-4b-it", "gemma-3-12b-it",
              "gemma-3-27b-it", "llama-3.2-1b-instruct", "llama-3.2-3b-instruct",
              "llama-3.1-8b-instruct", "deepseek-r1-distill-qwen-1.5b",
              "deepseek-r1-distill-qwen-7b", "mistral-small-3.2-24b-instruct-2506"}) {
            QVERIFY2(findCatalogEntry(*catalog, id), id);
        }
        // Architectures the engine does not run yet (gemma2 and phi3 run since issue 17).
        QVERIFY(!hearth::architecture_supported("mamba2"));
        QVERIFY(!hearth::architecture_supported("falcon"));
        QVERIFY(!hearth::architecture_supported(""));
    }

    // The coming part lists models Hearth cannot run yet: each has a reason, and one that
    // runs now fails here with what to do. The app lists them disabled, saying why.
    void comingEntriesAreNotYetRunnable() {
        auto coming = builtinCatalogPart(CatalogPart::coming);
        QVERIFY2(coming, coming ? "" : qPrintable(coming.error()));
        for (const CatalogEntry& entry : *coming) {
            QVERIFY(entry.coming && !entry.recommended);
            bool blocked = !entry.cannotRun.isEmpty();
            for (const CatalogFile& file : entry.files) {
                blocked = blocked || !file.cannotRun.isEmpty();
            }
            QVERIFY2(blocked, qPrintable(QStringLiteral("'%1' (%2) runs now: move it from "
                                                        "resources/catalog-coming.json into "
                                                        "resources/catalog.json "
                                                        "(scripts/catalog-promote %1)")
                                             .arg(entry.id, entry.architecture)));
            if (!entry.cannotRun.isEmpty()) {
                QCOMPARE(entry.cannotRun, cannotRunArchitecture(entry.architecture));
            }
        }
        // The whole catalog is both parts, the shipped entries first, no id twice.
        auto shipped = builtinCatalogPart(CatalogPart::shipped);
        auto all = builtinCatalog();
        QVERIFY2(all, all ? "" : qPrintable(all.error()));
        QCOMPARE(all->size(), shipped->size() + coming->size());
        QSet<QString> ids;
        for (const CatalogEntry& entry : *all) {
            ids.insert(entry.id);
        }
        QCOMPARE(ids.size(), all->size());
        if (!coming->isEmpty()) {
            QCOMPARE(all->last().id, coming->last().id);
        }
    }

    // The message every caller shows (the Download tab, pull) names the architecture and the
    // ones Hearth runs; the engine's list is its table's.
    void cannotRunMessagesNameWhatRuns() {
        const QString runs = QString::fromUtf8(hearth::supported_architectures().data(),
                                               hearth::supported_architectures().size());
        const QStringList names = runs.split(", ");
        for (const char* name : {"llama", "mistral", "qwen2", "qwen3", "gemma3"}) {
            QVERIFY2(names.contains(name), qPrintable(runs));
        }
        for (const QString& name : names) {
            QVERIFY2(hearth::architecture_supported(name.toStdString()), qPrintable(name));
            QVERIFY(cannotRunArchitecture(name).isEmpty());
        }
        QCOMPARE(cannotRunArchitecture("mamba2"),
                 QStringLiteral("Hearth cannot run mamba2 models yet (it runs %1)").arg(runs));
        // A quantization is refused exactly when one of its types is not computed.
        for (const char* label : {"Q4_K_M", "Q8_0", "F16", "BF16", "IQ4_XS", "IQ3_XS", "IQ2_XS",
                                  "IQ1_S", "TQ1_0", "MXFP4"}) {
            const auto types = quantizationWeightTypes(label);
            QVERIFY2(!types.isEmpty(), label);
            const bool computed = std::all_of(types.begin(), types.end(), [](auto type) {
                return hearth::weight_type_supported(type);
            });
            QCOMPARE(cannotRunQuantization(label).isEmpty(), computed);
            if (!computed) {
                QCOMPARE(cannotRunQuantization(label),
                         QStringLiteral("Hearth cannot compute with %1 weights yet").arg(label));
            }
        }
        QVERIFY(hearth::weight_type_supported(hearth::TensorType::Q4_K));
        QVERIFY(!hearth::weight_type_supported(hearth::TensorType::I32));
        QVERIFY(quantizationWeightTypes("Q9_Z").isEmpty());
        QVERIFY(cannotRunQuantization("Q9_Z").isEmpty());
    }

    // The empty state offers one model with one click: the tiniest, SmolLM2 135M (its first
    // file). "recommended" is a boolean on at most one entry.
    void oneEntryIsRecommended() {
        auto catalog = builtinCatalog();
        QVERIFY2(catalog, catalog ? "" : qPrintable(catalog.error()));
        const CatalogEntry* recommended = recommendedCatalogEntry(*catalog);
        QVERIFY(recommended);
        QCOMPARE(recommended->id, QStringLiteral("smollm2-135m-instruct"));
        QCOMPARE(std::count_if(catalog->cbegin(), catalog->cend(),
                               [](const CatalogEntry& entry) { return entry.recommended; }),
                 1);
        QVERIFY(!recommendedCatalogEntry({}));

        const QByteArray entry = R"({"id":"ID","name":"X","family":"F","repo":"a/b",
            "architecture":"llama","parameters":1000000000,"context_length":4096,
            "license":"mit","template":"chatml","description":"d",RECOMMENDED
            "files":[{"quantization":"Q4_K_M","file":"x-Q4_K_M.gguf"}]})";
        auto catalogOf = [&entry](const QByteArray& first, const QByteArray& second) {
            return "{\"models\":[" +
                   QByteArray(entry).replace("ID", "x").replace("RECOMMENDED", first) + "," +
                   QByteArray(entry).replace("ID", "y").replace("RECOMMENDED", second) + "]}";
        };
        auto parsed = parseCatalog(catalogOf("", "\"recommended\":true,"));
        QVERIFY2(parsed, parsed ? "" : qPrintable(parsed.error()));
        QCOMPARE(recommendedCatalogEntry(*parsed)->id, QStringLiteral("y"));
        parsed = parseCatalog(catalogOf("\"recommended\":false,", ""));
        QVERIFY(parsed && !recommendedCatalogEntry(*parsed));
        parsed = parseCatalog(catalogOf("\"recommended\":true,", "\"recommended\":true,"));
        QVERIFY(!parsed);
        QCOMPARE(parsed.error(), QStringLiteral("catalog entry 'y': only one entry may be "
                                                "\"recommended\""));
        parsed = parseCatalog(catalogOf("\"recommended\":\"yes\",", ""));
        QVERIFY(!parsed);
        QCOMPARE(parsed.error(),
                 QStringLiteral("catalog entry 'x': \"recommended\" must be true or false"));
    }

    void catalogErrorsNameTheProblem() {
        const QByteArray good = R"({"models":[{"id":"x","name":"X","family":"F","repo":"a/b",
            "architecture":"llama","parameters":1000000000,"context_length":4096,
            "license":"mit","template":"chatml","description":"d",
            "files":[{"quantization":"Q4_K_M","file":"x-Q4_K_M.gguf"}]}]})";
        auto parsed = parseCatalog(good);
        QVERIFY2(parsed, parsed ? "" : qPrintable(parsed.error()));
        QCOMPARE(parsed->value(0).architecture, QString("llama"));
        const std::pair<QByteArray, QByteArray> bad[] = {
            {"not json", "catalog:"},
            {R"({"models":[]})", "no \"models\""},
            {QByteArray(good).replace("\"repo\":\"a/b\"", "\"repo\":\"ab\""), "not owner/name"},
            {QByteArray(good).replace("1000000000", "5"), "parameters"},
            {QByteArray(good).replace("4096", "10"), "context_length"},
            {QByteArray(good).replace("\"license\":\"mit\",", ""), "\"license\""},
            {QByteArray(good).replace("x-Q4_K_M.gguf", "x.bin"), "not a .gguf"},
            {QByteArray(good).replace("\"file\":", "\"sha256\":\"abc\",\"file\":"), "sha256"},
            {QByteArray(good).replace("\"architecture\":\"llama\",", ""), "\"architecture\""},
            {QByteArray(good).replace("\"llama\"", "\"mamba2\""),
             "catalog entry 'x': architecture 'mamba2' is not one Hearth runs"},
            {QByteArray(good)
                 .replace("x-Q4_K_M.gguf", "x-Q9_Z.gguf")
                 .replace("\"Q4_K_M\"", "\"Q9_Z\""),
             "quantization 'Q9_Z' of x-Q9_Z.gguf is not a llama.cpp mix Hearth knows"},
        };
        for (const auto& [json, expected] : bad) {
            auto result = parseCatalog(json);
            QVERIFY2(!result, json.constData());
            QVERIFY2(result.error().contains(QString::fromLatin1(expected)),
                     qPrintable(result.error()));
        }
        // The coming part takes an architecture Hearth does not run, saying why; not a
        // recommended entry.
        const QByteArray mamba = QByteArray(good).replace("\"llama\"", "\"mamba2\"");
        auto coming = parseCatalog(mamba, CatalogPart::coming);
        QVERIFY2(coming, coming ? "" : qPrintable(coming.error()));
        QCOMPARE(coming->value(0).cannotRun, cannotRunArchitecture("mamba2"));
        QVERIFY(coming->value(0).coming);
        QVERIFY(parseCatalog(good, CatalogPart::coming)->value(0).cannotRun.isEmpty());
        coming =
            parseCatalog(QByteArray(mamba).replace("\"files\"", "\"recommended\":true,\"files\""),
                         CatalogPart::coming);
        QVERIFY(!coming);
        QCOMPARE(coming.error(), QStringLiteral("catalog entry 'x': an entry Hearth cannot run "
                                                "yet is not \"recommended\""));
    }
};

QTEST_GUILESS_MAIN(TestCatalog)
#include "tst_catalog.moc"
