// The token inspector's data path on the real default model: the worker loads with the
// context and threads it is given, requests sampling traces, and carries them to this thread
// as values (QSignalSpy through a queued relay) — one per generated token, each stage's
// candidates sorted with probabilities that sum to at most 1, the chosen token among the
// final stage's candidates; and MessageListModel hands them to QML.
#include "engine_worker.h"
#include "message_list_model.h"
#include "test_support.h"
#include "worker_relay.h"

#include <QSignalSpy>
#include <QtTest>

namespace {

QList<TokenTrace> collect(const QSignalSpy& spy, quint64 id) {
    QList<TokenTrace> all;
    for (const QList<QVariant>& args : spy) {
        if (args[0].toULongLong() == id) {
            all += args[1].value<QList<TokenTrace>>();
        }
    }
    return all;
}

} // namespace

class TestTokenTraces : public QObject {
    Q_OBJECT

private slots:
    void visibleText();
    void tracesArriveWithSaneProbabilities();
    void speculationMarksDraftedTokens();
};

void TestTokenTraces::visibleText() {
    QCOMPARE(TokenTrace::visible(QStringLiteral(" the\n")), QStringLiteral("␣the↵"));
    QCOMPARE(TokenTrace::visible(QString()), QStringLiteral("∅"));

    TokenTrace trace;
    trace.token = 7;
    trace.text = QStringLiteral(" a");
    trace.stages = {{QStringLiteral("top-k"),
                     2,
                     {{7, QStringLiteral(" a"), 0.75f}, {9, QStringLiteral("b"), 0.25f}}}};
    MessageListModel model;
    model.append({QStringLiteral("assistant"), QString(), {}, {}}, true);
    model.appendTokens(0, {trace, trace});
    QCOMPARE(model.data(model.index(0), MessageListModel::TokensRole).toStringList(),
             (QStringList{"␣a", "␣a"}));
    const QVariantMap map = model.tokenTrace(0, 1);
    QCOMPARE(map.value("token").toInt(), 7);
    const QVariantList stages = map.value("stages").toList();
    QCOMPARE(stages.size(), 1);
    const QVariantList candidates = stages[0].toMap().value("candidates").toList();
    QCOMPARE(candidates.size(), 2);
    QVERIFY(candidates[0].toMap().value("chosen").toBool());
    QVERIFY(!candidates[1].toMap().value("chosen").toBool());
    QCOMPARE(candidates[1].toMap().value("probability").toDouble(), 0.25);
    QCOMPARE(map.value("drafted").toInt(), -1);
    // Out of range: an empty map, not a crash.
    QVERIFY(model.tokenTrace(0, 2).isEmpty());
    QVERIFY(model.tokenTrace(1, 0).isEmpty());
    QVERIFY(model.tokenTrace(-1, 0).isEmpty());
}

void TestTokenTraces::tracesArriveWithSaneProbabilities() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineThread engine;
    EngineWorker* worker = engine.worker();
    WorkerRelay relay(worker);
    QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
    QSignalSpy traces(&relay, &WorkerRelay::tracesArrived);
    QSignalSpy finished(&relay, &WorkerRelay::generationFinished);

    // The load settings reach the engine: this context, this many threads.
    const QString path = QString::fromStdString(modelPath.string());
    engine.post([worker, path] { worker->loadModel(path, 384, 1); });
    QVERIFY(loaded.wait(120000));
    const auto summary = loaded[0][0].value<ModelSummary>();
    QCOMPARE(summary.contextLength, 384);
    QCOMPARE(summary.threads, 1);

    GenerationRequest request;
    request.id = 1;
    request.messages = {{QStringLiteral("user"), QStringLiteral("Name three colours.")}};
    request.sampling.temperature = 0.8f;
    request.sampling.top_k = 5; // every survivor fits in the trace: the chosen one is shown
    request.sampling.top_p = 0.95f;
    request.sampling.min_p = 0.02f;
    request.sampling.seed = 42;
    request.maxTokens = 16;
    request.traceTopN = 8;
    engine.post([worker, request] { worker->generate(request); });
    QVERIFY(finished.wait(120000));
    const auto result = finished[0][1].value<GenerationResult>();
    const QList<TokenTrace> all = collect(traces, 1);
    QCOMPARE(all.size(), result.generatedTokens);
    QVERIFY(result.generatedTokens > 0);

    QString joined;
    for (const TokenTrace& trace : all) {
        joined += trace.text;
        QStringList names;
        for (const TraceStage& stage : trace.stages) {
            names << stage.name;
            QVERIFY(!stage.top.isEmpty());
            QVERIFY(stage.top.size() <= 8);
            QVERIFY(stage.top.size() <= stage.remaining);
            double sum = 0;
            for (qsizetype i = 0; i < stage.top.size(); ++i) {
                const float p = stage.top[i].probability;
                QVERIFY2(p >= 0 && p <= 1, qPrintable(QString::number(p)));
                if (i > 0) {
                    QVERIFY(p <= stage.top[i - 1].probability + 1e-6f);
                }
                sum += p;
            }
            QVERIFY2(sum <= 1.0 + 1e-4, qPrintable(QString::number(sum)));
        }
        QCOMPARE(names.first(), QStringLiteral("logits"));
        QCOMPARE(names.last(), QStringLiteral("temperature"));
        QVERIFY(names.contains(QStringLiteral("top-k")));
        QVERIFY(trace.stages.first().remaining > 40000); // the whole vocabulary
        const TraceStage& last = trace.stages.last();
        QVERIFY(last.remaining <= 5);
        const bool present = std::any_of(last.top.begin(), last.top.end(),
                                         [&](const auto& c) { return c.token == trace.token; });
        QVERIFY2(present,
                 qPrintable(QStringLiteral("token %1 not in the final stage").arg(trace.token)));
        QCOMPARE(trace.stages.first().top.first().text.isEmpty(), false);
    }
    // Each token's piece, in order, spells the reply (plus the end-of-turn token, if any).
    QVERIFY2(joined.startsWith(result.text), qPrintable(joined + " | " + result.text));

    // Greedy: the chosen token is the most probable one; no trace when none is asked for.
    traces.clear();
    finished.clear();
    request.id = 2;
    request.sampling.temperature = 0;
    request.sampling.repeat_penalty = 1;
    request.maxTokens = 32;
    engine.post([worker, request] { worker->generate(request); });
    QVERIFY(finished.wait(120000));
    const QList<TokenTrace> greedy = collect(traces, 2);
    const double tracedSpeed = finished[0][1].value<GenerationResult>().decodeTokensPerSecond;
    QCOMPARE(greedy.size(), finished[0][1].value<GenerationResult>().generatedTokens);
    for (const TokenTrace& trace : greedy) {
        QCOMPARE(trace.stages.last().top.first().token, trace.token);
    }

    traces.clear();
    finished.clear();
    request.id = 3;
    request.traceTopN = 0;
    engine.post([worker, request] { worker->generate(request); });
    QVERIFY(finished.wait(120000));
    QCOMPARE(traces.count(), 0);
    // What tracing costs (noisy on a shared machine; for the record, not a pass mark).
    qInfo("greedy decode: %.1f tokens/s traced, %.1f untraced", tracedSpeed,
          finished[0][1].value<GenerationResult>().decodeTokensPerSecond);
}

// Speculative decoding from the app's setting: the reply is the one without it (greedy), the
// traces mark the drafted tokens (accepted ones, and the model's token where it rejected a
// draft), and the result carries the counts the Gauge shows.
void TestTokenTraces::speculationMarksDraftedTokens() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    EngineThread engine;
    EngineWorker* worker = engine.worker();
    WorkerRelay relay(worker);
    QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
    QSignalSpy traces(&relay, &WorkerRelay::tracesArrived);
    QSignalSpy finished(&relay, &WorkerRelay::generationFinished);
    const QString path = QString::fromStdString(modelPath.string());
    engine.post([worker, path] { worker->loadModel(path, 512, 1, QStringLiteral("cpu")); });
    QVERIFY(loaded.wait(120000));

    GenerationRequest request;
    request.messages = {{QStringLiteral("user"),
                         QStringLiteral("Repeat this line exactly: the quick brown fox jumps "
                                        "over the lazy dog, the quick brown fox jumps.")}};
    request.sampling.temperature = 0;
    request.sampling.repeat_penalty = 1;
    request.maxTokens = 32;
    request.traceTopN = 4;
    QList<GenerationResult> results;
    for (const QString& mode :
         {QStringLiteral("off"), QStringLiteral("lookup"), QStringLiteral("draft")}) {
        request.id += 1;
        request.speculation = mode;
        request.draftModel = path; // the model as its own draft
        traces.clear();
        finished.clear();
        engine.post([worker, request] { worker->generate(request); });
        QVERIFY(finished.wait(120000));
        results.push_back(finished[0][1].value<GenerationResult>());
        const GenerationResult& result = results.back();
        const QList<TokenTrace> all = collect(traces, request.id);
        QCOMPARE(all.size(), result.generatedTokens);
        int accepted = 0, drafted = 0;
        for (const TokenTrace& trace : all) {
            drafted += trace.drafted >= 0 ? 1 : 0;
            accepted += trace.draftAccepted ? 1 : 0;
            QVERIFY(!trace.draftAccepted || trace.drafted == trace.token);
        }
        QCOMPARE(accepted, result.acceptedDraftTokens);
        QCOMPARE(result.text, results.front().text);
        if (mode == QLatin1String("off")) {
            QCOMPARE(drafted, 0);
            QCOMPARE(result.draftedTokens, 0);
        } else {
            QVERIFY2(result.acceptedDraftTokens > 0, qPrintable(mode));
            QVERIFY(result.draftedTokens >= result.acceptedDraftTokens);
            QVERIFY(drafted > 0);
        }
    }

    // A draft model file that cannot be loaded fails the request with a message.
    QSignalSpy failed(&relay, &WorkerRelay::generationFailed);
    request.id += 1;
    request.speculation = QStringLiteral("draft");
    request.draftModel = QStringLiteral("/nonexistent/draft.gguf");
    engine.post([worker, request] { worker->generate(request); });
    QVERIFY(failed.wait(120000));
    QVERIFY2(failed[0][1].toString().contains(QStringLiteral("draft model")),
             qPrintable(failed[0][1].toString()));
}

QTEST_GUILESS_MAIN(TestTokenTraces)
#include "tst_token_traces.moc"
