// ChatController: loading and unloading models on the worker, and what a load's end shows.
#include "chat_controller.h"

#include <QFileInfo>
#include <QSettings>
#include <QUrl>

void ChatController::openModelInNewConversation(const QString& pathOrUrl) {
    stop();
    loadModel(pathOrUrl);
    newConversation();
}

void ChatController::loadModel(const QString& pathOrUrl) {
    // The file dialog gives a file:// URL.
    const QUrl url(pathOrUrl);
    const QString path = url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
    if (RemoteServers::isRemotePath(path)) {
        loadRemote(path);
        return;
    }
    beginLoad(path, QStringLiteral("Loading %1…"));
    // A memory budget stated in the Models panel holds: a model that does not fit it is not
    // loaded, and the load's failure shows the checklist's fixes.
    std::optional<hearth::PreflightSettings> budgetCheck;
    if (m_preflight.memoryBudget() > 0) {
        budgetCheck = preflightSettings();
        budgetCheck->memory_budget_bytes = uint64_t(m_preflight.memoryBudget());
    }
    m_engine->post([worker = m_engine->worker(), path, context = m_library.contextLength(),
                    threads = m_library.threads(), device = m_library.device(),
                    gpuLayers = m_library.gpuLayers(), kvType = m_library.kvType(), budgetCheck,
                    catalog = m_preflight.catalogJson()] {
        if (budgetCheck && worker->refuseOverBudget(path, *budgetCheck, catalog)) {
            return;
        }
        worker->loadModel(path, context, threads, device, gpuLayers, kvType);
    });
}

// What the window shows from the moment a model is asked for: its name, no error, no progress,
// no Gauge figures. The worker drops the old model (and stops the local server) first.
void ChatController::beginLoad(const QString& path, const QString& statusFormat) {
    m_modelPath = path;
    m_modelError.clear();
    m_loadProgress = 0;
    m_model = ModelSummary{};
    m_model.name = displayName(path);
    emit loadProgressChanged();
    setModelState(ModelState::Loading);
    setStatus(statusFormat.arg(m_model.name));
    m_gauge.clearModel();
    m_server->modelGone();
    m_loadDiagnoses.clear();
}

void ChatController::loadRemote(const QString& path) {
    beginLoad(path, QStringLiteral("Connecting to %1…"));
    m_remoteServers.target(path, [this, path](std::optional<RemoteTarget> target) {
        if (path != m_modelPath) {
            return; // another model was asked for meanwhile
        }
        if (!target) {
            onLoadFailed(QStringLiteral("This remote server is no longer in the Models panel."));
            return;
        }
        m_engine->post(
            [worker = m_engine->worker(), target = *target] { worker->connectRemote(target); });
    });
}

QString ChatController::displayName(const QString& path) const {
    if (RemoteServers::isRemotePath(path)) {
        return m_remoteServers.nameOf(path);
    }
    // The Models panel's name: an Ollama blob's file name is a hash.
    const QString listed = m_library.nameOf(path);
    return listed.isEmpty() ? QFileInfo(path).completeBaseName() : listed;
}

void ChatController::cancelLoad() {
    if (m_modelState == ModelState::Loading) {
        m_engine->worker()->cancelLoad();
    }
}

void ChatController::unloadModel() {
    stop();
    m_engine->post([worker = m_engine->worker()] { worker->unloadModel(); });
    m_model = ModelSummary{};
    m_modelPath.clear();
    m_library.setLoadedPath(QString());
    m_remoteServers.setLoadedPath(QString());
    m_gauge.clearModel();
    m_server->modelGone(); // the worker stops a running server before it unloads
    setModelState(ModelState::NoModel);
    setStatus(QStringLiteral("No model loaded"));
}

void ChatController::onModelLoaded(const ModelSummary& summary) {
    if (summary.path != m_modelPath) {
        return; // superseded by a later load
    }
    m_model = summary;
    m_model.name = displayName(summary.path);
    m_loadProgress = 1;
    emit loadProgressChanged();
    QSettings().setValue(QLatin1String(kLastModelKey), summary.path);
    m_gauge.setCudaDevice(summary.cudaDevice);
    m_gauge.setModel(summary);
    m_library.setLoadedPath(summary.remote ? QString() : summary.path);
    m_remoteServers.setLoadedPath(summary.remote ? summary.path : QString());
    setModelState(ModelState::Ready);
    QString status =
        summary.remote
            ? QStringLiteral("Ready · %1 at %2").arg(summary.serverDescription, summary.endpoint)
            : QStringLiteral("Ready · loaded in %1 s").arg(summary.loadMs / 1000.0, 0, 'f', 1);
    if (summary.deviceFellBack && !summary.deviceNote.isEmpty()) {
        status += QStringLiteral(" · ") + summary.deviceNote; // why the GPU was not used
    }
    setStatus(status);
    schedulePreview();
    m_server->modelReady(summary); // starts it when the switch is on
}

void ChatController::onLoadFailed(const QString& message) {
    // The worker drops the old model before loading a new one: none is loaded now.
    m_library.setLoadedPath(QString());
    m_remoteServers.setLoadedPath(QString());
    m_modelError = message;
    setModelState(ModelState::Failed);
    setStatus(QStringLiteral("The model could not be loaded"));
    // The doctor's word on why (a memory budget the model does not fit), with its fixes.
    if (!m_loadDiagnoses.empty()) {
        m_diagnoses = std::move(m_loadDiagnoses);
        m_loadDiagnoses.clear();
        m_diagnosesFor = m_currentId;
        emit diagnosesChanged();
    }
}
