// What a GGUF file on a server is, before downloading it: a Range request for its first
// megabytes (more when the metadata is longer), parsed by the engine's parse_gguf_header,
// which accepts a prefix of the file, then read_model_info. The fit badge comes from the
// model's memory plan against this machine's memory (model_fit.h).
#pragma once

#include "hearth/model_info.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QUrl>

class QNetworkAccessManager;
class QNetworkReply;

// Signals carry ModelInfo by value (queued connections, QSignalSpy).
Q_DECLARE_METATYPE(hearth::ModelInfo)

class RemoteGgufProbe : public QObject {
    Q_OBJECT
public:
    // `token` goes to the host of the URL only, as for downloads.
    RemoteGgufProbe(QNetworkAccessManager* network, QUrl url, QByteArray token,
                    QObject* parent = nullptr);

    // `fileSize`: the whole file's size when known (the API gives it); for a split model,
    // `totalSize` is all parts together and the weights are counted from it.
    void start(qint64 fileSize = -1, qint64 totalSize = -1);

    static constexpr qint64 kFirstRequestBytes = 4ll << 20;
    static constexpr qint64 kMaxRequestBytes = 64ll << 20;

signals:
    void finished(const hearth::ModelInfo& info);
    void failed(const QString& message);

private:
    void request();
    void onFinished();

    QNetworkAccessManager* m_network;
    QUrl m_url;
    QUrl m_current;
    QByteArray m_token;
    QPointer<QNetworkReply> m_reply;
    QByteArray m_bytes;
    qint64 m_want = kFirstRequestBytes;
    qint64 m_fileSize = -1;
    qint64 m_totalSize = -1;
    QSet<QUrl> m_visited;
};
