// The engine worker's signals, re-emitted on the test's thread. The worker lives on the engine
// thread; a QSignalSpy connected to it directly counts from that thread, and a signal that
// comes before the spy's wait() starts is then missed (the wait times out though the signal
// came). Spies on a WorkerRelay see queued copies, delivered while the test's thread waits.
#pragma once

#include "engine_worker.h"

#include <QObject>

class WorkerRelay : public QObject {
    Q_OBJECT
public:
    explicit WorkerRelay(EngineWorker* worker) {
        connect(worker, &EngineWorker::loadProgress, this, &WorkerRelay::loadProgress,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::modelLoaded, this, &WorkerRelay::modelLoaded,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::loadFailed, this, &WorkerRelay::loadFailed,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::tokensArrived, this, &WorkerRelay::tokensArrived,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::tracesArrived, this, &WorkerRelay::tracesArrived,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::generationFinished, this, &WorkerRelay::generationFinished,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::generationFailed, this, &WorkerRelay::generationFailed,
                Qt::QueuedConnection);
        connect(worker, &EngineWorker::previewReady, this, &WorkerRelay::previewReady,
                Qt::QueuedConnection);
    }

signals:
    void loadProgress(double fraction);
    void modelLoaded(const ModelSummary& summary);
    void loadFailed(const QString& message);
    void tokensArrived(quint64 id, const QString& reasoning, const QString& answer, int generated,
                       int reasoningTokens, double ms);
    void tracesArrived(quint64 id, const QList<TokenTrace>& traces);
    void generationFinished(quint64 id, const GenerationResult& result);
    void generationFailed(quint64 id, const QString& message);
    void previewReady(const PromptPreview& preview);
};
