// The empty state's one-click start: the catalog's recommended model (the entry marked
// "recommended" in resources/catalog.json, its first file), downloaded from Hugging Face
// through the DownloadController, so with the Hub's size and SHA-256, the downloader's
// checks and retries, and a row in the Download tab, where it can be paused too. When the
// file has arrived and been verified, downloaded(path) asks for it to be loaded.
//
// A download of that file already in the queue (one interrupted in an earlier run, listed
// paused) is adopted, not started again. GUI-thread object, owned by ChatController.
#pragma once

#include "catalog.h"

#include <QObject>
#include <QPointer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

class DownloadController;
class DownloadTask;

class RecommendedModel : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("RecommendedModel belongs to ChatController")
    // False when the catalog marks no entry (or could not be read): nothing to offer.
    Q_PROPERTY(bool available READ available CONSTANT)
    Q_PROPERTY(QString name READ name CONSTANT) // "SmolLM2 135M Instruct"
    Q_PROPERTY(QString quantization READ quantization CONSTANT)
    Q_PROPERTY(QString description READ description CONSTANT)
    Q_PROPERTY(QString repo READ repo CONSTANT)         // "bartowski/SmolLM2-135M-Instruct-GGUF"
    Q_PROPERTY(QString sizeText READ sizeText CONSTANT) // "≈ 96.0 MiB" (the catalog's estimate)
    Q_PROPERTY(State state READ state NOTIFY changed)
    // 0..1, or -1 while the size is unknown.
    Q_PROPERTY(double progress READ progress NOTIFY changed)
    // "12.0 MiB of 96.0 MiB · 2.0 MiB/s · 0:42 left"; empty when not downloading.
    Q_PROPERTY(QString progressText READ progressText NOTIFY changed)
    Q_PROPERTY(QString error READ error NOTIFY changed) // why it failed, in the Failed state
    Q_PROPERTY(QString path READ path NOTIFY changed)   // the file, once Downloaded

public:
    enum class State {
        Idle,        // not started (or cancelled)
        Preparing,   // asking the Hub for the file's size and SHA-256
        Downloading, // queued, transferring or retrying
        Paused,
        Verifying,  // the SHA-256 of the whole file
        Downloaded, // verified and in the models folder
        Failed
    };
    Q_ENUM(State)

    explicit RecommendedModel(DownloadController* downloads, QObject* parent = nullptr);

    bool available() const { return m_available; }
    QString name() const { return m_entry.name; }
    QString quantization() const { return m_file.quantization; }
    QString description() const { return m_entry.description; }
    QString repo() const { return m_entry.repo; }
    QString sizeText() const;
    State state() const { return m_state; }
    double progress() const;
    QString progressText() const;
    QString error() const { return m_error; }
    QString path() const { return m_path; }

    // Starts the download, resumes a paused one, or tries again after a failure. Nothing
    // while one is under way.
    Q_INVOKABLE void download();
    // Stops the transfer and keeps the partial file, for download() to resume.
    Q_INVOKABLE void pause();
    // Stops it and removes the partial file.
    Q_INVOKABLE void cancel();

signals:
    void changed();
    // The file is complete and its SHA-256 matched: load it.
    void downloaded(const QString& path);

private:
    void adopt(DownloadTask* task);
    bool isOurs(const DownloadTask* task) const;
    void followTask();
    void setState(State state, const QString& error = {});

    DownloadController* m_downloads;
    bool m_available = false;
    CatalogEntry m_entry;
    CatalogFile m_file;
    QUrl m_url; // where the downloader fetches the file
    QPointer<DownloadTask> m_task;
    State m_state = State::Idle;
    bool m_cancelRequested = false; // cancel() while the Hub was still being asked
    QString m_error;
    QString m_path;
};
