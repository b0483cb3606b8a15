// The curated catalog (resources/catalog.json): every entry complete and plausible, its
// template one of the engine's built-ins, its architecture one the engine runs (no model a
// user could download and then not load), and the reader's errors naming the problem.
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
            QVERIFY2(entry.files.size() >= 2 && entry.files.size() <= 3, qPrintable(entry.id));
            // The template family named is one of the engine's built-ins.
            QVERIFY2(hearth::find_builtin_template(entry.templateFamily.toStdString()),
                     qPrintable(entry.id + QStringLiteral(": no built-in template ") +
                                entry.templateFamily));
            for (const CatalogFile& file : entry.files) {
                // The quantization named is the one in the file name.
                QCOMPARE(HfApi::quantizationFromName(file.file), file.quantization.toUpper());
            }
        }
        QVERIFY(families.size() >= 5);
        QVERIFY(smallest <= 150'000'000);
        QVERIFY(largest >= 70'000'000'000);
        QVERIFY(findCatalogEntry(*catalog, "SMOLLM2-135M-INSTRUCT"));
        QVERIFY(!findCatalogEntry(*catalog, "no-such-model"));
    }

    // Every entry names the architecture its files carry (general.architecture), and the
    // engine runs it: no model is offered that the engine cannot load.
    void everyArchitectureIsOneTheEngineRuns() {
        auto catalog = builtinCatalog();
        QVERIFY2(catalog, catalog ? "" : qPrintable(catalog.error()));
        QSet<QString> architectures;
        for (const CatalogEntry& entry : *catalog) {
            QVERIFY2(!entry.architecture.isEmpty(), qPrintable(entry.id));
            QVERIFY2(hearth::architecture_supported(entry.architecture.toStdString()),
                     qPrintable(entry.id + ": " + entry.architecture));
            architectures.insert(entry.architecture);
        }
        // The families llama.cpp writes for these models: SmolLM2, Llama and Mistral are
        // "llama", Qwen2.5 "qwen2", Gemma 3 "gemma3".
        QCOMPARE(architectures, QSet<QString>({"llama", "qwen2", "gemma3"}));
        QCOMPARE(findCatalogEntry(*catalog, "qwen2.5-7b-instruct")->architecture, "qwen2");
        QCOMPARE(findCatalogEntry(*catalog, "gemma-3-4b-it")->architecture, "gemma3");
        for (const char* gone : {"gemma-2-2b-it", "gemma-2-9b-it", "phi-3-mini-4k-instruct",
                                 "phi-3.5-mini-instruct", "phi-4"}) {
            QVERIFY2(!findCatalogEntry(*catalog, gone), gone);
        }
        // Architectures the engine does not run yet (gemma2 and phi3 run since issue 17).
        QVERIFY(!hearth::architecture_supported("gemma4"));
        QVERIFY(!hearth::architecture_supported("falcon"));
        QVERIFY(!hearth::architecture_supported(""));
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
            {QByteArray(good).replace("\"llama\"", "\"falcon\""),
             "catalog entry 'x': architecture 'falcon' is not one Hearth runs"},
        };
        for (const auto& [json, expected] : bad) {
            auto result = parseCatalog(json);
            QVERIFY2(!result, json.constData());
            QVERIFY2(result.error().contains(QString::fromLatin1(expected)),
                     qPrintable(result.error()));
        }
    }
};

QTEST_GUILESS_MAIN(TestCatalog)
#include "tst_catalog.moc"
