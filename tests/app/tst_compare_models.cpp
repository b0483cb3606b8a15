// Compare columns on other models than the chat's: a column's model kept in a saved session
// (and a file from before per-column models read as the chat's model everywhere), columns on
// two models each writing what a run of their model alone writes, and a model that does not
// fit the RAM failing its column only. The rest of compare mode: tst_compare.cpp.
#include "compare_controller.h"
#include "compare_test_support.h"
#include "engine_worker.h"
#include "test_support.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using hearth::test::compare::reply;
using hearth::test::compare::secondModelPath;
using hearth::test::compare::SharedEngine;

class TestCompareModels : public QObject {
    Q_OBJECT

private slots:
    void sessionFileKeepsColumnModels();
    void columnsOnTwoModels();
    void modelThatDoesNotFit();
    void cleanupTestCase() { m_engine.reset(); }

private:
    // The engine thread with the default model loaded, shared by the tests that generate.
    EngineWorker* loadedWorker() { return m_engine.worker(); }
    // The text of a comparison of one column alone, on the worker directly.
    static QString runAlone(EngineWorker* worker, const CompareColumnRequest& column);

    SharedEngine m_engine;
};

// Three columns, one on the tiny llama, saved and reopened.
void TestCompareModels::sessionFileKeepsColumnModels() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    CompareController controller;
    QVERIFY(controller.addColumn());
    const QString path = dir.filePath("session.json");
    CompareController reopened;
    // A column's own model is kept; a file that is not there is refused.
    QVERIFY2(controller.setColumnValue(2, "modelPath", secondModelPath()),
             qPrintable(controller.error()));
    QVERIFY(!controller.setColumnValue(1, "modelPath", dir.filePath("nowhere.gguf")));
    QVERIFY2(controller.error().contains("no model file at"), qPrintable(controller.error()));
    QVERIFY(controller.modelChoices().contains(secondModelPath()));
    QCOMPARE(controller.modelLabel(secondModelPath()), "llama");
    QVERIFY2(controller.saveSession(path), qPrintable(controller.error()));
    QVERIFY2(reopened.openSession(path), qPrintable(reopened.error()));
    QCOMPARE(reopened.columns()->index(2).data(CompareColumnModel::ModelPathRole).toString(),
             secondModelPath());
    QCOMPARE(reopened.columns()->index(2).data(CompareColumnModel::ModelNameRole).toString(),
             "llama");
    QCOMPARE(reopened.columns()->index(0).data(CompareColumnModel::ModelPathRole).toString(), "");
    // A file from before per-column models (no "model" key): the chat's model everywhere.
    QFile older(dir.filePath("older.json"));
    QVERIFY(older.open(QIODevice::WriteOnly));
    older.write(R"({"version": 1, "user_messages": [], "columns": [
        {"template": "", "seed": "1"}, {"template": "raw", "seed": "2"}]})");
    older.close();
    QVERIFY2(reopened.openSession(older.fileName()), qPrintable(reopened.error()));
    QCOMPARE(reopened.columns()->rowCount(), 2);
    QCOMPARE(reopened.columns()->index(1).data(CompareColumnModel::ModelPathRole).toString(), "");
    QCOMPARE(reopened.columns()->index(1).data(CompareColumnModel::TemplateNameRole).toString(),
             "raw");
    QVERIFY2(reopened.openSession(path), qPrintable(reopened.error()));
}

QString TestCompareModels::runAlone(EngineWorker* worker, const CompareColumnRequest& column) {
    static quint64 nextId = 1'000'000; // apart from the controllers' ids
    const quint64 id = nextId++;
    QString text;
    bool done = false;
    QObject context;
    connect(
        worker, &EngineWorker::compareFinished, &context,
        [&](quint64 finishedId, const QList<GenerationResult>& results) {
            if (finishedId == id && results.size() == 1) {
                text = results[0].error.isEmpty() ? results[0].text : "error: " + results[0].error;
                done = true;
            }
        },
        Qt::QueuedConnection);
    connect(
        worker, &EngineWorker::compareFailed, &context,
        [&](quint64 failedId, const QString& message) {
            if (failedId == id) {
                text = "failed: " + message;
                done = true;
            }
        },
        Qt::QueuedConnection);
    CompareRequest request;
    request.id = id;
    request.columns << column;
    QMetaObject::invokeMethod(
        worker, [worker, request] { worker->generateCompare(request); }, Qt::QueuedConnection);
    if (!QTest::qWaitFor([&] { return done; }, 120000)) {
        return QStringLiteral("timed out");
    }
    return text;
}

// A column on the tiny llama beside one on the chat's model: one batch per model, one after
// the other; each column writes what its model writes alone, and the summary says two
// models ran.
void TestCompareModels::columnsOnTwoModels() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineWorker* worker = loadedWorker();
    QVERIFY(worker);
    CompareController controller;
    controller.setEngine(worker);
    QSignalSpy finished(&controller, &CompareController::finished);
    for (int i = 0; i < 2; ++i) {
        QVERIFY(controller.setColumnValue(i, "temperature", 1.0));
        QVERIFY(controller.setColumnValue(i, "topK", 100));
        QVERIFY(controller.setColumnValue(i, "maxTokens", 12));
    }
    QVERIFY(controller.setColumnValue(0, "seed", "31"));
    QVERIFY(controller.setColumnValue(1, "modelPath", secondModelPath()));
    const QString message = "Write a short line about the sea.";
    QVERIFY2(controller.send(message), qPrintable(controller.error()));
    QVERIFY(finished.wait(120000));
    QVERIFY2(controller.error().isEmpty(), qPrintable(controller.error()));
    const QString own = reply(controller, 0);
    const QString llama = reply(controller, 1);
    QVERIFY(!own.isEmpty());
    QVERIFY(!llama.isEmpty());
    QVERIFY(own != llama);
    const QModelIndex second = controller.columns()->index(1);
    QCOMPARE(second.data(CompareColumnModel::ColumnErrorRole).toString(), "");
    QVERIFY(second.data(CompareColumnModel::GeneratedTokensRole).toInt() > 0);
    QVERIFY(second.data(CompareColumnModel::PromptTokensRole).toInt() > 0);
    QCOMPARE(second.data(CompareColumnModel::SharedTokensRole).toInt(), 0); // nothing to share
    QVERIFY2(controller.summaryText().contains("2 models"), qPrintable(controller.summaryText()));

    for (int i = 0; i < 2; ++i) {
        const CompareColumn& column = controller.columns()->column(i);
        CompareColumnRequest alone;
        alone.modelPath = column.modelPath;
        alone.templateName = column.templateName;
        alone.sampling = column.sampling;
        alone.maxTokens = column.maxTokens;
        alone.messages << ChatTurn{"user", message};
        QCOMPARE(runAlone(worker, alone), reply(controller, i));
    }
}

// A model whose memory plan exceeds the RAM available is not loaded: its column says so
// with both figures, and the chat model's column still writes its reply.
void TestCompareModels::modelThatDoesNotFit() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineWorker* worker = loadedWorker();
    QVERIFY(worker);
    CompareController controller;
    controller.setEngine(worker);
    QSignalSpy finished(&controller, &CompareController::finished);
    // Whatever an earlier test left loaded goes once no column uses it: the columns are on
    // the chat's model until column 2 picks the llama below.
    QVERIFY(controller.setColumnValue(1, "modelPath", ""));
    worker->setCompareAvailableMemory(1024);
    QVERIFY(controller.setColumnValue(1, "modelPath", secondModelPath()));
    for (int i = 0; i < 2; ++i) {
        QVERIFY(controller.setColumnValue(i, "maxTokens", 6));
    }
    QVERIFY(controller.send("Hello!"));
    const bool ended = finished.wait(120000);
    worker->setCompareAvailableMemory(0);
    QVERIFY(ended);
    QVERIFY2(controller.error().isEmpty(), qPrintable(controller.error()));
    const QModelIndex first = controller.columns()->index(0);
    const QModelIndex second = controller.columns()->index(1);
    QVERIFY(!reply(controller, 0).isEmpty());
    QCOMPARE(first.data(CompareColumnModel::ColumnErrorRole).toString(), "");
    const QString why = second.data(CompareColumnModel::ColumnErrorRole).toString();
    QVERIFY2(why.startsWith("llama.gguf needs ") && why.endsWith(", 1.00 KiB RAM available"),
             qPrintable(why));
    QCOMPARE(second.data(CompareColumnModel::StopReasonRole).toString(), "failed");
    QCOMPARE(reply(controller, 1), "");
    QVERIFY(!second.data(CompareColumnModel::GeneratingRole).toBool());

    // With the memory back, the next message runs both columns; the conversation stays one
    // reply per message in each column.
    QVERIFY(controller.send("And again?"));
    QVERIFY(finished.wait(120000));
    QCOMPARE(second.data(CompareColumnModel::ColumnErrorRole).toString(), "");
    QVERIFY(!reply(controller, 1).isEmpty());
    QCOMPARE(controller.columns()->column(1).replies.size(), 2);
}

QTEST_GUILESS_MAIN(TestCompareModels)
#include "tst_compare_models.moc"
