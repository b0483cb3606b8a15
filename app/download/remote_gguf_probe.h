// What a GGUF file on a server is, before downloading it: a Range request for its first
// megabytes (more when the metadata is longer), parsed by the engine's parse_gguf_header,
// which accepts a prefix of the file, then read_model_info. The fit badge comes from the
// model's memory plan against this machine's memory (model_fit.h). Requests follow
// http_policy.h's rules (the token to the hub's origin only, bounded redirects).
//
// checkBeforeDownload is the one rule every download follows (the Download tab, the
// empty state's one click, hearth-cli pull): read the header first, and hold the download
// when the file's architecture is one Hearth does not run.
#pragma once

#include "hearth/model_info.h"
#include "http_policy.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QUrl>
#include <functional>

class QNetworkAccessManager;
class QNetworkReply;

// Signals carry ModelInfo by value (queued connections, QSignalSpy).
Q_DECLARE_METATYPE(hearth::ModelInfo)

class RemoteGgufProbe : public QObject {
    Q_OBJECT
public:
    // `token` goes to `tokenOrigin` only (the hub's), as for downloads.
    RemoteGgufProbe(QNetworkAccessManager* network, QUrl url, QByteArray token = {},
                    QUrl tokenOrigin = {}, QObject* parent = nullptr);

    // `fileSize`: the whole file's size when known (the API gives it); for a split model,
    // `totalSize` is all parts together and the weights are counted from it.
    void start(qint64 fileSize = -1, qint64 totalSize = -1);

    // The first request asks for 4 MiB, each next one for 4 times more, up to 64 MiB: a
    // vocabulary of 256k tokens fits in about 8 MiB. docs/LIMITS.md.
    static constexpr qint64 kFirstRequestBytes = 4ll << 20;
    static constexpr qint64 kMaxRequestBytes = 64ll << 20;

signals:
    void finished(const hearth::ModelInfo& info);
    // The header names an architecture Hearth does not run; `message` says so and names the
    // ones it runs (cannotRunArchitecture). The rest of the metadata is not read.
    void unsupported(const QString& architecture, const QString& message);
    void failed(const QString& message);

private:
    void request();
    void onReadyRead();
    void onFinished();
    QNetworkReply* takeReply();
    void handleResponse(QNetworkReply* reply);

    QNetworkAccessManager* m_network;
    QUrl m_url;
    QByteArray m_token;
    QUrl m_tokenOrigin;
    HttpPolicy::RedirectChain m_redirects;
    QPointer<QNetworkReply> m_reply;
    QByteArray m_bytes;
    qint64 m_want = kFirstRequestBytes;
    qint64 m_fileSize = -1;
    qint64 m_totalSize = -1;
};

// Reads the header of the file at `url` (the first part of a split model) and calls `done`
// on `context`'s thread with why Hearth cannot run it ("Hearth cannot run qwen3moe models
// yet (it runs …)"), or with an empty string when it can, or when the header could not be
// read: a probe that fails (a network error, a file that is not GGUF) does not block the
// download, which then fails or loads as before and says why.
void checkBeforeDownload(QNetworkAccessManager* network, const QUrl& url, const QByteArray& token,
                         const QUrl& tokenOrigin, qint64 fileSize, QObject* context,
                         std::function<void(const QString& refusal)> done);
