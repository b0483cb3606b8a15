// The Download tab's controller (QML): the curated catalog with search and filters, a
// Hugging Face link or owner/repo looked up into its GGUF files, fit badges, and the
// download queue (pause / resume / cancel). Emits modelDownloaded(path) when a model is
// complete (for a split model: its first part, once every part is there).
//
// Every download first reads the file's header (checkBeforeDownload): one of a model Hearth
// cannot run yet is held, with the reason in heldMessage, until downloadAnyway() or
// dismissHeld(). Catalog entries Hearth cannot run yet are listed with cannotRun set.
//
// GUI-thread object. Interrupted downloads found in the models directory at start are
// listed paused, ready to resume.
#pragma once

#include "catalog.h"
#include "download_list_model.h"
#include "download_manager.h"
#include "hf_api.h"
#include "model_fit.h"

#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <optional>

class DownloadController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(QString modelsDirectory READ modelsDirectory WRITE setModelsDirectory NOTIFY
                   modelsDirectoryChanged)
    Q_PROPERTY(QString token WRITE setToken READ tokenMasked NOTIFY tokenChanged)
    Q_PROPERTY(bool hasToken READ hasToken NOTIFY tokenChanged)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY fitInputsChanged)
    Q_PROPERTY(
        double availableBytes READ availableBytes WRITE setAvailableBytes NOTIFY fitInputsChanged)
    // Catalog, filtered: search text (name, family, repository, description), family ("" for
    // all), size class ("", "small" < 2B, "medium" 2B–10B, "large" > 10B).
    Q_PROPERTY(QString searchText READ searchText WRITE setSearchText NOTIFY catalogChanged)
    Q_PROPERTY(QString familyFilter READ familyFilter WRITE setFamilyFilter NOTIFY catalogChanged)
    Q_PROPERTY(QString sizeFilter READ sizeFilter WRITE setSizeFilter NOTIFY catalogChanged)
    Q_PROPERTY(QVariantList catalog READ catalog NOTIFY catalogChanged)
    // "All families" first, then each family of the catalog.
    Q_PROPERTY(QStringList families READ families CONSTANT)
    Q_PROPERTY(QString catalogError READ catalogError CONSTANT)
    // The last lookup of a link or owner/repo.
    Q_PROPERTY(QString lookupRepo READ lookupRepo NOTIFY lookupChanged)
    Q_PROPERTY(QVariantList lookupFiles READ lookupFiles NOTIFY lookupChanged)
    Q_PROPERTY(bool lookupBusy READ lookupBusy NOTIFY lookupChanged)
    Q_PROPERTY(QString lookupError READ lookupError NOTIFY lookupChanged)
    Q_PROPERTY(QAbstractListModel* downloads READ downloads CONSTANT)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)
    // The files whose headers are being read before their downloads start; empty when none.
    Q_PROPERTY(QString checkingFile READ checkingFile NOTIFY heldChanged)
    // A download held because Hearth cannot run the model: the file and why; both empty
    // when none is held.
    Q_PROPERTY(QString heldName READ heldName NOTIFY heldChanged)
    Q_PROPERTY(QString heldMessage READ heldMessage NOTIFY heldChanged)

public:
    explicit DownloadController(QObject* parent = nullptr);

    QString modelsDirectory() const { return m_modelsDirectory; }
    void setModelsDirectory(const QString& directory);
    void setToken(const QString& token);
    QString tokenMasked() const { return m_token.isEmpty() ? QString() : QStringLiteral("••••"); }
    bool hasToken() const { return !HfApi::tokenFromEnvironment(m_token).isEmpty(); }
    int contextLength() const { return m_contextLength; }
    void setContextLength(int tokens);
    double availableBytes() const { return static_cast<double>(m_availableBytes); }
    void setAvailableBytes(double bytes);

    QString searchText() const { return m_searchText; }
    void setSearchText(const QString& text);
    QString familyFilter() const { return m_familyFilter; }
    void setFamilyFilter(const QString& family);
    QString sizeFilter() const { return m_sizeFilter; }
    void setSizeFilter(const QString& sizeClass);
    QVariantList catalog() const;
    QStringList families() const;
    QString catalogError() const { return m_catalogError; }

    QString lookupRepo() const { return m_lookupRepo; }
    QVariantList lookupFiles() const { return m_lookupFiles; }
    bool lookupBusy() const { return m_lookupBusy; }
    QString lookupError() const { return m_lookupError; }
    QAbstractListModel* downloads() const { return m_list; }
    QString lastError() const { return m_lastError; }
    QString checkingFile() const { return m_checking.join(QStringLiteral(", ")); }
    QString heldName() const { return m_held ? m_held->name : QString(); }
    QString heldMessage() const { return m_held ? m_held->message : QString(); }
    DownloadManager* manager() const { return m_manager; }

    // Lists the GGUF files of a link or owner/repo (or offers a plain URL as one file).
    Q_INVOKABLE void lookup(const QString& text);
    // Reads the header of lookupFiles[index] (a Range request) for a precise fit badge.
    Q_INVOKABLE void probe(int index);
    Q_INVOKABLE void downloadLookupFile(int index);
    // Downloads a catalog entry's file; its size and SHA-256 come from the API first. An
    // entry Hearth cannot run yet is held (heldMessage) rather than started.
    Q_INVOKABLE void downloadCatalogFile(const QString& id, const QString& quantization);
    // Starts the held download as the user insists; forgets it.
    Q_INVOKABLE void downloadAnyway();
    Q_INVOKABLE void dismissHeld();
    Q_INVOKABLE void pause(int row);
    Q_INVOKABLE void resume(int row);
    Q_INVOKABLE void cancel(int row);
    Q_INVOKABLE void remove(int row);
    // "1.2 GiB", "3:05", for the page's labels.
    Q_INVOKABLE static QString formatBytes(double bytes);
    Q_INVOKABLE static QString formatDuration(double seconds);

signals:
    void modelsDirectoryChanged();
    void tokenChanged();
    void fitInputsChanged();
    void catalogChanged();
    void lookupChanged();
    void lastErrorChanged();
    void heldChanged();
    void modelDownloaded(const QString& path);
    // downloadCatalogFile(id, quantization) queued nothing (also in lastError, or in
    // heldMessage when Hearth cannot run the model).
    void catalogDownloadFailed(const QString& id, const QString& quantization,
                               const QString& message);

private:
    // What a download needs: the repository's parts, or a plain URL.
    struct PendingDownload {
        QString name; // the file, as the user sees it
        QString repo;
        QList<HfApi::RemoteFile> parts;
        QUrl direct;
        QString catalogId; // with the quantization, when the catalog asked for it
        QString quantization;
        QString message; // why it is held
    };
    // False (and lastError set) when no part was queued.
    bool enqueueParts(const QString& repo, const QList<HfApi::RemoteFile>& parts,
                      const QUrl& direct);
    // Reads the header first (checkBeforeDownload), then queues the parts or holds them.
    void checkThenEnqueue(const PendingDownload& download);
    void hold(const PendingDownload& download);
    QList<MemoryDevice> fitDevices() const;
    QString fitOf(qint64 bytes) const;
    QString fitDeviceOf(qint64 bytes) const; // the GPU's name or "RAM"
    QByteArray effectiveToken() const { return HfApi::tokenFromEnvironment(m_token); }
    void setLastError(const QString& message);
    void setLookup(bool busy, const QString& error, const QVariantList& files);

    DownloadManager* m_manager;
    DownloadListModel* m_list;
    QNetworkAccessManager m_network;
    QList<CatalogEntry> m_catalog;
    QString m_catalogError;
    QString m_modelsDirectory;
    QByteArray m_token;
    int m_contextLength = 4096;
    quint64 m_availableBytes = 0; // 0: this machine's RAM and GPUs (DeviceProbe)
    QString m_searchText;
    QString m_familyFilter;
    QString m_sizeFilter;
    QString m_lookupRepo;
    QUrl m_lookupUrl;
    QList<HfApi::GgufChoice> m_lookupChoices;
    QVariantList m_lookupFiles;
    bool m_lookupBusy = false;
    QString m_lookupError;
    QString m_lastError;
    int m_lookupGeneration = 0;
    QStringList m_checking; // files whose headers are being read, oldest first
    std::optional<PendingDownload> m_held;
};
