// The Download tab's controller (see the header).
#include "download_controller.h"

#include "device_probe.h"
#include "model_fit.h"
#include "model_locator.h"
#include "remote_gguf_probe.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>

namespace {

// The badge's key in QML ("fits", "tight", "wont_fit"); the engine's fit_name is prose.
QString fitName(hearth::Fit fit) {
    switch (fit) {
    case hearth::Fit::fits:
        return QStringLiteral("fits");
    case hearth::Fit::tight:
        return QStringLiteral("tight");
    case hearth::Fit::wont_fit:
        return QStringLiteral("wont_fit");
    }
    return QStringLiteral("unknown");
}

} // namespace

DownloadController::DownloadController(QObject* parent)
    : QObject(parent), m_manager(new DownloadManager(this)),
      m_list(new DownloadListModel(m_manager, this)),
      m_modelsDirectory(ModelLocator::modelsDirectory()) {
    if (auto catalog = builtinCatalog()) {
        m_catalog = *catalog;
    } else {
        m_catalogError = catalog.error();
    }
    m_manager->setToken(effectiveToken(), HfApi::endpoint());
    connect(m_manager, &DownloadManager::taskFinished, this,
            [this](DownloadTask* task, const QString& path) {
                if (task->state().group.isEmpty()) {
                    emit modelDownloaded(path);
                }
            });
    connect(
        m_manager, &DownloadManager::groupFinished, this,
        [this](const QString&, const QStringList& paths) { emit modelDownloaded(paths.first()); });
    connect(m_manager, &DownloadManager::taskFailed, this,
            [this](DownloadTask*, const QString& message) { setLastError(message); });
    // Downloads interrupted in an earlier run, listed paused.
    m_manager->restorePending(m_modelsDirectory, false);
    // The GPUs become known shortly after start: the badges then count them.
    connect(DeviceProbe::instance(), &DeviceProbe::devicesChanged, this, [this] {
        emit fitInputsChanged();
        emit catalogChanged();
    });
}

void DownloadController::setModelsDirectory(const QString& directory) {
    if (directory == m_modelsDirectory) {
        return;
    }
    m_modelsDirectory = directory;
    m_manager->restorePending(m_modelsDirectory, false);
    emit modelsDirectoryChanged();
}

void DownloadController::setToken(const QString& token) {
    m_token = token.trimmed().toUtf8();
    m_manager->setToken(effectiveToken(), HfApi::endpoint());
    emit tokenChanged();
}

void DownloadController::setContextLength(int tokens) {
    if (tokens > 0 && tokens != m_contextLength) {
        m_contextLength = tokens;
        emit fitInputsChanged();
        emit catalogChanged();
    }
}

void DownloadController::setAvailableBytes(double bytes) {
    m_availableBytes = bytes > 0 ? static_cast<quint64>(bytes) : 0;
    emit fitInputsChanged();
    emit catalogChanged();
}

void DownloadController::setSearchText(const QString& text) {
    if (text != m_searchText) {
        m_searchText = text;
        emit catalogChanged();
    }
}

void DownloadController::setFamilyFilter(const QString& family) {
    if (family != m_familyFilter) {
        m_familyFilter = family;
        emit catalogChanged();
    }
}

void DownloadController::setSizeFilter(const QString& sizeClass) {
    if (sizeClass != m_sizeFilter) {
        m_sizeFilter = sizeClass;
        emit catalogChanged();
    }
}

QList<MemoryDevice> DownloadController::fitDevices() const {
    // A figure set by hand stands for the whole machine: RAM of that size, no GPU.
    return m_availableBytes > 0 ? ramOnly(m_availableBytes)
                                : DeviceProbe::instance()->memoryDevices();
}

QString DownloadController::fitOf(qint64 bytes) const {
    return bytes > 0 ? fitName(roughFit(bytes, fitDevices()).fit) : QStringLiteral("unknown");
}

QString DownloadController::fitDeviceOf(qint64 bytes) const {
    return bytes > 0 ? roughFit(bytes, fitDevices()).device : QString();
}

QVariantList DownloadController::catalog() const {
    QVariantList out;
    const QString needle = m_searchText.trimmed();
    for (const CatalogEntry& entry : m_catalog) {
        const bool matches = needle.isEmpty() || entry.name.contains(needle, Qt::CaseInsensitive) ||
                             entry.family.contains(needle, Qt::CaseInsensitive) ||
                             entry.repo.contains(needle, Qt::CaseInsensitive) ||
                             entry.description.contains(needle, Qt::CaseInsensitive);
        const bool family = m_familyFilter.isEmpty() || entry.family == m_familyFilter;
        const bool size =
            m_sizeFilter.isEmpty() ||
            (m_sizeFilter == QLatin1String("small") && entry.parameters < 2'000'000'000) ||
            (m_sizeFilter == QLatin1String("medium") && entry.parameters >= 2'000'000'000 &&
             entry.parameters <= 10'000'000'000) ||
            (m_sizeFilter == QLatin1String("large") && entry.parameters > 10'000'000'000);
        if (!matches || !family || !size) {
            continue;
        }
        QVariantList files;
        for (const CatalogFile& file : entry.files) {
            const qint64 bytes =
                file.size > 0 ? file.size : estimatedFileSize(entry.parameters, file.quantization);
            files.append(QVariantMap{{"quantization", file.quantization},
                                     {"file", file.file},
                                     {"size", static_cast<double>(bytes)},
                                     {"sizeIsEstimate", file.size <= 0},
                                     {"fit", fitOf(bytes)},
                                     {"fitDevice", fitDeviceOf(bytes)},
                                     {"cannotRun", file.cannotRun}});
        }
        out.append(QVariantMap{{"id", entry.id},
                               {"name", entry.name},
                               {"family", entry.family},
                               {"repo", entry.repo},
                               {"architecture", entry.architecture},
                               {"parameters", static_cast<double>(entry.parameters)},
                               {"contextLength", entry.contextLength},
                               {"license", entry.license},
                               {"template", entry.templateFamily},
                               {"description", entry.description},
                               {"cannotRun", entry.cannotRun},
                               {"files", files}});
    }
    return out;
}

QStringList DownloadController::families() const {
    QStringList out{tr("All families")}; // the filter's "no filter" choice, first
    for (const CatalogEntry& entry : m_catalog) {
        if (!out.contains(entry.family)) {
            out.append(entry.family);
        }
    }
    return out;
}

void DownloadController::setLookup(bool busy, const QString& error, const QVariantList& files) {
    m_lookupBusy = busy;
    m_lookupError = error;
    m_lookupFiles = files;
    emit lookupChanged();
}

void DownloadController::lookup(const QString& text) {
    const int generation = ++m_lookupGeneration; // a newer lookup replaces an older one
    m_lookupChoices.clear();
    auto reference = HfApi::parseReference(text);
    if (!reference) {
        m_lookupRepo.clear();
        setLookup(false, reference.error(), {});
        return;
    }
    m_lookupRepo = reference->repo;
    m_lookupUrl = reference->url;
    if (reference->url.isValid()) {
        HfApi::GgufChoice choice;
        choice.name = QFileInfo(reference->url.path()).fileName();
        choice.quantization = HfApi::quantizationFromName(choice.name);
        choice.parts = {HfApi::RemoteFile{reference->url.toString(), -1, {}}};
        m_lookupChoices = {choice};
        setLookup(false, {},
                  {QVariantMap{{"name", choice.name},
                               {"quantization", choice.quantization},
                               {"size", -1.0},
                               {"parts", 1},
                               {"complete", true},
                               {"fit", QStringLiteral("unknown")}}});
        return;
    }
    setLookup(true, {}, {});
    const QString wanted = reference->file;
    HfApi::listGguf(
        &m_network, reference->repo, effectiveToken(), this,
        [this, generation, wanted](auto result) {
            if (generation != m_lookupGeneration) {
                return;
            }
            if (!result) {
                setLookup(false, result.error(), {});
                return;
            }
            QVariantList files;
            for (const HfApi::GgufChoice& choice : *result) {
                if (!wanted.isEmpty() && choice.name != wanted &&
                    choice.parts.first().path != wanted) {
                    continue;
                }
                m_lookupChoices.append(choice);
                files.append(QVariantMap{{"name", choice.name},
                                         {"quantization", choice.quantization},
                                         {"size", static_cast<double>(choice.totalSize)},
                                         {"parts", choice.parts.size()},
                                         {"complete", choice.complete},
                                         {"fit", fitOf(choice.totalSize)},
                                         {"fitDevice", fitDeviceOf(choice.totalSize)}});
            }
            setLookup(false, files.isEmpty() ? tr("no GGUF files found") : QString(), files);
        });
}

void DownloadController::probe(int index) {
    if (index < 0 || index >= m_lookupChoices.size()) {
        return;
    }
    const HfApi::GgufChoice choice = m_lookupChoices[index];
    const QUrl url = m_lookupUrl.isValid()
                         ? m_lookupUrl
                         : HfApi::resolveUrl(m_lookupRepo, choice.parts.first().path);
    auto* probe = new RemoteGgufProbe(&m_network, url, effectiveToken(), HfApi::endpoint(), this);
    const int generation = m_lookupGeneration;
    connect(probe, &RemoteGgufProbe::finished, this, [=, this](const hearth::ModelInfo& info) {
        probe->deleteLater();
        if (generation != m_lookupGeneration || index >= m_lookupFiles.size()) {
            return;
        }
        const FitEstimate estimate =
            fitOnThisMachine(info, static_cast<uint32_t>(m_contextLength), fitDevices());
        QVariantMap file = m_lookupFiles[index].toMap();
        file["fit"] = fitName(estimate.fit);
        file["fitDevice"] = estimate.device;
        file["neededBytes"] = static_cast<double>(estimate.plan.total_bytes);
        file["architecture"] = QString::fromStdString(info.architecture);
        file["contextTrained"] = info.n_ctx_train;
        m_lookupFiles[index] = file;
        emit lookupChanged();
    });
    connect(probe, &RemoteGgufProbe::failed, this, [=, this](const QString& message) {
        probe->deleteLater();
        if (generation == m_lookupGeneration && index < m_lookupFiles.size()) {
            QVariantMap file = m_lookupFiles[index].toMap();
            file["probeError"] = message;
            m_lookupFiles[index] = file;
            emit lookupChanged();
        }
    });
    connect(probe, &RemoteGgufProbe::unsupported, this,
            [=, this](const QString& architecture, const QString& message) {
                probe->deleteLater();
                if (generation == m_lookupGeneration && index < m_lookupFiles.size()) {
                    QVariantMap file = m_lookupFiles[index].toMap();
                    file["architecture"] = architecture;
                    file["cannotRun"] = message;
                    m_lookupFiles[index] = file;
                    emit lookupChanged();
                }
            });
    probe->start(choice.parts.first().size, choice.totalSize);
}

bool DownloadController::enqueueParts(const QString& repo, const QList<HfApi::RemoteFile>& parts,
                                      const QUrl& direct) {
    const QString group = parts.size() > 1 ? repo + '/' + parts.first().path : QString();
    QList<DownloadState> requests;
    for (const HfApi::RemoteFile& part : parts) {
        DownloadState request;
        request.url = direct.isValid() ? direct : HfApi::resolveUrl(repo, part.path);
        auto destination = DownloadState::destinationIn(m_modelsDirectory, request.url);
        if (!destination) {
            setLastError(destination.error()); // no part starts: the model would be incomplete
            return false;
        }
        request.destination = *destination;
        request.expectedSize = part.size;
        request.sha256 = part.sha256;
        request.group = group;
        requests.append(request);
    }
    for (const DownloadState& request : requests) {
        m_manager->enqueue(request);
    }
    return true;
}

void DownloadController::downloadLookupFile(int index) {
    if (index < 0 || index >= m_lookupChoices.size()) {
        return;
    }
    const HfApi::GgufChoice& choice = m_lookupChoices[index];
    if (!choice.complete) {
        setLastError(
            tr("%1: parts of this split file are missing from the repository").arg(choice.name));
        return;
    }
    PendingDownload download;
    download.name = choice.name;
    download.repo = m_lookupRepo;
    download.parts = choice.parts;
    download.direct = m_lookupUrl;
    checkThenEnqueue(download);
}

void DownloadController::checkThenEnqueue(const PendingDownload& download) {
    const QUrl url = download.direct.isValid()
                         ? download.direct
                         : HfApi::resolveUrl(download.repo, download.parts.first().path);
    m_checking.append(download.name);
    emit heldChanged();
    checkBeforeDownload(
        &m_network, url, effectiveToken(), HfApi::endpoint(), download.parts.first().size, this,
        [this, download](const QString& refusal) {
            m_checking.removeOne(download.name);
            emit heldChanged();
            if (!refusal.isEmpty()) {
                PendingDownload held = download;
                held.message = refusal;
                hold(held);
            } else if (!enqueueParts(download.repo, download.parts, download.direct) &&
                       !download.catalogId.isEmpty()) {
                emit catalogDownloadFailed(download.catalogId, download.quantization, m_lastError);
            }
        });
}

void DownloadController::hold(const PendingDownload& download) {
    m_held = download;
    emit heldChanged();
    if (!download.catalogId.isEmpty()) {
        emit catalogDownloadFailed(download.catalogId, download.quantization, download.message);
    }
}

void DownloadController::downloadAnyway() {
    if (!m_held) {
        return;
    }
    const PendingDownload held = *m_held;
    m_held.reset();
    emit heldChanged();
    enqueueParts(held.repo, held.parts, held.direct);
}

void DownloadController::dismissHeld() {
    if (m_held) {
        m_held.reset();
        emit heldChanged();
    }
}

void DownloadController::downloadCatalogFile(const QString& id, const QString& quantization) {
    // Said twice: in lastError for the Download tab, and to whoever asked for this file.
    auto fail = [this, id, quantization](const QString& message) {
        setLastError(message);
        emit catalogDownloadFailed(id, quantization, message);
    };
    const CatalogEntry* entry = findCatalogEntry(m_catalog, id);
    if (!entry) {
        fail(tr("no catalog entry %1").arg(id));
        return;
    }
    const CatalogFile* chosen = nullptr;
    for (const CatalogFile& candidate : entry->files) {
        if (candidate.quantization == quantization) {
            chosen = &candidate;
        }
    }
    if (!chosen) {
        fail(tr("%1 has no quantization %2").arg(id, quantization));
        return;
    }
    const QString file = chosen->file;
    // What the catalog already knows Hearth cannot run is held without reading the header.
    const QString known = !entry->cannotRun.isEmpty() ? entry->cannotRun : chosen->cannotRun;
    const QString repo = entry->repo;
    HfApi::listGguf(&m_network, repo, effectiveToken(), this,
                    [this, id, quantization, repo, file, known, fail](auto result) {
                        if (!result) {
                            fail(result.error());
                            return;
                        }
                        for (const HfApi::GgufChoice& choice : *result) {
                            if (choice.parts.first().path == file || choice.name == file) {
                                PendingDownload download;
                                download.name = choice.name;
                                download.repo = repo;
                                download.parts = choice.parts;
                                download.catalogId = id;
                                download.quantization = quantization;
                                if (!known.isEmpty()) {
                                    download.message = known;
                                    hold(download);
                                } else {
                                    checkThenEnqueue(download);
                                }
                                return;
                            }
                        }
                        fail(tr("%1 is no longer in %2").arg(file, repo));
                    });
}

void DownloadController::pause(int row) {
    m_manager->pause(m_list->taskAt(row));
}

void DownloadController::resume(int row) {
    m_manager->resume(m_list->taskAt(row));
}

void DownloadController::cancel(int row) {
    m_manager->cancel(m_list->taskAt(row));
}

void DownloadController::remove(int row) {
    if (DownloadTask* task = m_list->taskAt(row)) {
        if (task->status() == DownloadTask::Status::Paused) {
            task->cancel(); // forgetting a paused download drops its partial file
        }
        m_manager->remove(task);
    }
}

QString DownloadController::formatBytes(double bytes) {
    if (bytes < 0) {
        return QStringLiteral("?");
    }
    return QLocale::c().formattedDataSize(static_cast<qint64>(bytes), 1,
                                          QLocale::DataSizeIecFormat);
}

QString DownloadController::formatDuration(double seconds) {
    if (seconds < 0) {
        return QStringLiteral("--:--");
    }
    const auto total = static_cast<qint64>(seconds + 0.5);
    if (total >= 3600) {
        return QStringLiteral("%1:%2:%3")
            .arg(total / 3600)
            .arg(total / 60 % 60, 2, 10, QLatin1Char('0'))
            .arg(total % 60, 2, 10, QLatin1Char('0'));
    }
    return QStringLiteral("%1:%2").arg(total / 60).arg(total % 60, 2, 10, QLatin1Char('0'));
}

void DownloadController::setLastError(const QString& message) {
    m_lastError = message;
    emit lastErrorChanged();
}
