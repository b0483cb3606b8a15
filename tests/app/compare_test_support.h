// Helpers shared by the compare-mode tests (tst_compare, tst_compare_models): an engine
// thread with the default model loaded, a column's reply, and the second model columns run on.
#pragma once

#include "compare_controller.h"
#include "engine_worker.h"
#include "test_support.h"

#include <QObject>
#include <QString>
#include <QTest>
#include <memory>

namespace hearth::test::compare {

// The reply a column shows for the last message.
inline QString reply(CompareController& c, int column) {
    return c.columns()->index(column).data(CompareColumnModel::ReplyRole).toString();
}

// A second real model: the tiny random-weight llama of the architecture tests.
inline QString secondModelPath() {
    return QString::fromStdString((data_dir() / "arch" / "llama.gguf").string());
}

// Loads the default model on `engine` (empty caches); its worker, or null (with a warning
// saying why) when it did not load in 2 minutes.
inline EngineWorker* loadWorker(EngineThread& engine) {
    EngineWorker* worker = engine.worker();
    bool loaded = false;
    QString failure;
    QObject context;
    QObject::connect(
        worker, &EngineWorker::modelLoaded, &context, [&] { loaded = true; }, Qt::QueuedConnection);
    QObject::connect(
        worker, &EngineWorker::loadFailed, &context, [&](const QString& m) { failure = m; },
        Qt::QueuedConnection);
    const QString path = QString::fromStdString(default_model_path().string());
    engine.post([worker, path] { worker->loadModel(path, 512, 2); });
    if (!QTest::qWaitFor([&] { return loaded || !failure.isEmpty(); }, 120000)) {
        qWarning("the default model did not load in 2 minutes");
    }
    if (!failure.isEmpty()) {
        qWarning("loading the default model failed: %s", qPrintable(failure));
    }
    return loaded ? worker : nullptr;
}

// The engine thread with the default model loaded, shared by a test class's generating tests:
// loaded on first use, kept until reset().
class SharedEngine {
public:
    EngineWorker* worker() {
        if (!m_engine) {
            m_engine = std::make_unique<EngineThread>();
            if (!loadWorker(*m_engine)) {
                m_engine.reset();
                return nullptr;
            }
        }
        return m_engine->worker();
    }
    void reset() { m_engine.reset(); }

private:
    std::unique_ptr<EngineThread> m_engine;
};

} // namespace hearth::test::compare
