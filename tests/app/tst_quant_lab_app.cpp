// The Quantization lab panel's controller (app/lab/quant_lab_controller.h) on the tiny
// random-weight F16 llama of tests/data/arch: a run goes to the end on its own thread, reports
// its stages, and fills the rows with the figures the engine's run_quant_lab gives for the same
// settings; a cancel leaves no file behind; an unwritable folder, a text too short and a missing
// text file are refused with the engine's message.
#include "hearth/quant_lab.h"
#include "isolated_profile.h"
#include "quant_lab_controller.h"
#include "test_support.h"

#include <QDir>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QString tinyModel() {
    return QString::fromStdString((hearth::test::data_dir() / "arch" / "llama_f16.gguf").string());
}

// Plain words the tiny model's byte-level vocabulary encodes at about a token a byte.
QByteArray words(int n_bytes) {
    QByteArray text;
    for (int i = 0; text.size() < n_bytes; ++i) {
        text += i % 7 == 0 ? "the " : i % 3 == 0 ? "lab " : "measures ";
    }
    return text;
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(bytes);
}

// Waits for the run to end, however long the loaded machine takes (ctest's timeout bounds it).
void waitForEnd(QuantLabController& lab, QSignalSpy& finished) {
    while (finished.isEmpty()) {
        finished.wait(1000);
    }
    QVERIFY(!lab.running());
}

QStringList ggufFiles(const QString& dir) {
    return QDir(dir).entryList(QDir::Files | QDir::Hidden);
}

} // namespace

class TestQuantLabApp : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void runFillsTheTable();
    void cancelLeavesNoFile();
    void refusals();
    // Runs last: the settings it leaves would change the other tests' defaults.
    void settingsAreRememberedAndRestored();

private:
    // A controller on the tiny model, one type, one untimed window of 64 on m_text.
    void configure(QuantLabController& lab, const QString& outDir);
    QTemporaryDir m_root;
    QString m_text;
};

void TestQuantLabApp::initTestCase() {
    QVERIFY(m_root.isValid());
    useIsolatedProfile(m_root.path(), QStringLiteral("tst_quant_lab_app"));
    QVERIFY(QFileInfo::exists(tinyModel()));
    m_text = m_root.filePath(QStringLiteral("text.txt"));
    writeFile(m_text, words(400));
}

void TestQuantLabApp::configure(QuantLabController& lab, const QString& outDir) {
    lab.setModelPath(tinyModel());
    lab.setSelectedTypes({QStringLiteral("Q8_0")});
    lab.setOutputFolder(outDir);
    lab.setTextFile(m_text);
    lab.setContextLength(64);
    lab.setWindows(1);
    lab.setMeasureSpeed(false);
}

void TestQuantLabApp::runFillsTheTable() {
    QuantLabController lab;
    // The panel's defaults: the common types, a quant-lab folder in the app's data dir.
    QCOMPARE(lab.selectedTypes(), QStringList({"Q8_0", "Q6_K", "Q4_K_M", "Q2_K"}));
    QVERIFY(lab.outputFolder().endsWith(QStringLiteral("/hearth/quant-lab")));
    QVERIFY(lab.outputFolder().startsWith(m_root.path()));
    QVERIFY(lab.typeChoices().contains(QStringLiteral("IQ4_XS")));

    const QString out = m_root.filePath(QStringLiteral("made"));
    configure(lab, out);
    QStringList stages;
    connect(&lab, &QuantLabController::progressChanged, this, [&] { stages << lab.stage(); });
    QSignalSpy finished(&lab, &QuantLabController::finished);
    QVERIFY(lab.start());
    QVERIFY(lab.running());
    QVERIFY(!lab.start()); // one run at a time
    waitForEnd(lab, finished);
    QCOMPARE(finished.first().at(0).toBool(), true);
    QVERIFY2(lab.error().isEmpty(), qPrintable(lab.error()));
    QVERIFY(stages.contains(QStringLiteral("Q8_0: quantizing")));
    QVERIFY(stages.contains(QStringLiteral("reference")));
    QVERIFY(stages.contains(QStringLiteral("Q8_0: scoring")));

    // The engine's own figures for the same settings (the Q8_0 file is found and reused).
    hearth::QuantLabOptions options;
    options.model = tinyModel().toStdString();
    options.types = {hearth::QuantFileType::Q8_0};
    options.text = words(400).toStdString();
    options.out_dir = out.toStdString();
    options.measure.n_ctx = 64;
    options.measure.max_windows = 1;
    options.measure.measure_speed = false;
    auto report = hearth::run_quant_lab(options);
    QVERIFY2(report.has_value(), report ? "" : report.error().message.c_str());
    QCOMPARE(report->reused, std::vector<std::string>{"Q8_0"});

    const QVariantList rows = lab.results();
    QCOMPARE(rows.size(), qsizetype(2));
    for (int i = 0; i < 2; ++i) {
        const QVariantMap row = rows[i].toMap();
        const hearth::LabEntry& e = report->entries[static_cast<size_t>(i)];
        QCOMPARE(row["label"].toString(), QString::fromStdString(e.label));
        QCOMPARE(row["isReference"].toBool(), i == 0);
        QCOMPARE(row["path"].toString(), QString::fromStdString(e.path.string()));
        QCOMPARE(row["fileBytes"].toDouble(), double(e.file_bytes));
        QCOMPARE(row["memoryBytes"].toDouble(), double(e.memory_bytes()));
        QCOMPARE(row["perplexity"].toDouble(), e.quality.perplexity);
        QCOMPARE(row["meanKld"].toDouble(), e.quality.mean_kld);
        QCOMPARE(row["p99Kld"].toDouble(), e.quality.p99_kld);
        QCOMPARE(row["top1"].toDouble(), 100 * e.quality.same_top);
        const double change =
            100 * (e.quality.perplexity / report->entries[0].quality.perplexity - 1);
        QCOMPARE(row["perplexityChange"].toDouble(), change);
    }
    const QVariantMap q8 = rows[1].toMap();
    QVERIFY(q8["meanKld"].toDouble() > 0); // a real quantization, really scored
    QVERIFY(q8["memoryBytes"].toDouble() < rows[0].toMap()["memoryBytes"].toDouble());
    QCOMPARE(q8["ruleOfThumb"].toString(),
             QString::fromStdString(hearth::rule_of_thumb(hearth::QuantFileType::Q8_0)));
    QCOMPARE(q8["ruleClass"].toString(), QStringLiteral("INT8"));
    QCOMPARE(rows[0].toMap()["ruleClass"].toString(), QString());
    QVERIFY(QFileInfo::exists(q8["path"].toString()));
    QVERIFY(!lab.verdict().isEmpty());
    QVERIFY2(lab.summary().contains(QStringLiteral("F16 reference")), qPrintable(lab.summary()));

    // A second run finds the file made by the first.
    finished.clear();
    QVERIFY(lab.start());
    waitForEnd(lab, finished);
    QVERIFY(lab.results().at(1).toMap()["reused"].toBool());
}

void TestQuantLabApp::cancelLeavesNoFile() {
    QuantLabController lab;
    const QString out = m_root.filePath(QStringLiteral("cancelled"));
    configure(lab, out);
    lab.setSelectedTypes({QStringLiteral("Q8_0"), QStringLiteral("Q4_K_M")});
    QSignalSpy finished(&lab, &QuantLabController::finished);
    QVERIFY(lab.start());
    lab.cancel(); // before the thread has made anything: deterministic
    waitForEnd(lab, finished);
    QCOMPARE(finished.first().at(0).toBool(), false);
    QCOMPARE(finished.first().at(1).toBool(), true);
    QVERIFY(lab.error().isEmpty());
    QVERIFY(lab.results().isEmpty());
    QCOMPARE(ggufFiles(out), QStringList());
}

void TestQuantLabApp::refusals() {
    QuantLabController lab;
    QSignalSpy finished(&lab, &QuantLabController::finished);

    // A folder under a regular file cannot be made: the engine's `io` message names it.
    const QString blocker = m_root.filePath(QStringLiteral("a-file"));
    writeFile(blocker, "x");
    configure(lab, blocker + QStringLiteral("/quant-lab"));
    QVERIFY(lab.start());
    waitForEnd(lab, finished);
    QCOMPARE(finished.takeFirst().at(0).toBool(), false);
    QVERIFY2(lab.error().contains(blocker), qPrintable(lab.error()));

    // A text shorter than one window.
    configure(lab, m_root.filePath(QStringLiteral("short")));
    const QString shortText = m_root.filePath(QStringLiteral("short.txt"));
    writeFile(shortText, "the lab");
    lab.setTextFile(shortText);
    QVERIFY(lab.start());
    waitForEnd(lab, finished);
    QCOMPARE(finished.takeFirst().at(0).toBool(), false);
    QVERIFY2(lab.error().contains(QStringLiteral("window")), qPrintable(lab.error()));
    QVERIFY(lab.results().isEmpty());

    // Refused before a thread starts: a missing text file, no type, no model.
    lab.setTextFile(m_root.filePath(QStringLiteral("missing.txt")));
    QVERIFY(!lab.start());
    QVERIFY2(lab.error().contains(QStringLiteral("missing.txt")), qPrintable(lab.error()));
    lab.setTextFile({});
    lab.setSelectedTypes({});
    QVERIFY(!lab.start());
    QVERIFY(!lab.error().isEmpty());
    lab.setSelectedTypes({QStringLiteral("Q8_0")});
    lab.setModelPath({});
    QVERIFY(!lab.start());
    QVERIFY(!lab.running());
}

void TestQuantLabApp::settingsAreRememberedAndRestored() {
    const QString out = m_root.filePath(QStringLiteral("remembered"));
    const QString imatrix = m_root.filePath(QStringLiteral("missing.imatrix.gguf"));
    {
        QuantLabController lab;
        configure(lab, out);
        lab.setSelectedTypes({QStringLiteral("Q4_0"), QStringLiteral("IQ4_XS")});
        lab.setImatrixFile(imatrix);
        lab.setContextLength(96);
        lab.setWindows(3);
        lab.setMeasureSpeed(false);
    }
    {
        // A new panel (the app started again) has them back.
        QuantLabController lab;
        QCOMPARE(lab.selectedTypes(), QStringList({"Q4_0", "IQ4_XS"}));
        QCOMPARE(lab.outputFolder(), out);
        QCOMPARE(lab.textFile(), m_text);
        QCOMPARE(lab.imatrixFile(), imatrix);
        QCOMPARE(lab.contextLength(), 96);
        QCOMPARE(lab.windows(), 3);
        QVERIFY(!lab.measureSpeed());
        // The imatrix reaches the engine, which refuses a file it cannot read before making
        // anything.
        lab.setModelPath(tinyModel());
        QSignalSpy finished(&lab, &QuantLabController::finished);
        QVERIFY(lab.start());
        QVERIFY(finished.wait(120000));
        QVERIFY2(lab.error().contains(QStringLiteral("missing.imatrix.gguf")),
                 qPrintable(lab.error()));
        QVERIFY(!QFileInfo::exists(out));
    }
    {
        // A hand-edited file: unknown types dropped, numbers clamped to the panel's range.
        QSettings settings;
        settings.setValue(QStringLiteral("quantLab/types"), QStringList({"Q9_9", "q8_0"}));
        settings.setValue(QStringLiteral("quantLab/context"), 1 << 30);
        settings.setValue(QStringLiteral("quantLab/windows"), -5);
    }
    QuantLabController lab;
    QCOMPARE(lab.selectedTypes(), QStringList({"Q8_0"}));
    QCOMPARE(lab.contextLength(), QuantLabController::kMaxContext);
    QCOMPARE(lab.windows(), 0);
    QSettings().remove(QStringLiteral("quantLab"));
}

QTEST_GUILESS_MAIN(TestQuantLabApp)
#include "tst_quant_lab_app.moc"
