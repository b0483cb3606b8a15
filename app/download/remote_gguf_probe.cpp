// Reads a remote GGUF file's header with Range requests (see the header).
#include "remote_gguf_probe.h"

#include "hearth/gguf.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <algorithm>

RemoteGgufProbe::RemoteGgufProbe(QNetworkAccessManager* network, QUrl url, QByteArray token,
                                 QObject* parent)
    : QObject(parent), m_network(network), m_url(std::move(url)), m_token(std::move(token)) {}

void RemoteGgufProbe::start(qint64 fileSize, qint64 totalSize) {
    m_fileSize = fileSize;
    m_totalSize = totalSize;
    m_want = kFirstRequestBytes;
    m_current = m_url;
    m_visited.clear();
    request();
}

void RemoteGgufProbe::request() {
    QNetworkRequest request(m_current);
    // Redirects by hand, as DownloadTask does: the token must not follow them to a CDN.
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::ManualRedirectPolicy);
    request.setTransferTimeout(30000);
    request.setRawHeader("Accept-Encoding", "identity");
    request.setRawHeader("Range", "bytes=0-" + QByteArray::number(m_want - 1));
    if (!m_token.isEmpty() && m_current.host() == m_url.host()) {
        request.setRawHeader("Authorization", "Bearer " + m_token);
    }
    m_bytes.clear();
    m_reply = m_network->get(request);
    // A server that ignores Range sends the whole file: stop reading at what we asked for.
    connect(m_reply, &QNetworkReply::readyRead, this, [this] {
        QNetworkReply* reply = m_reply;
        if (!reply) {
            return;
        }
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status != 200 && status != 206) {
            return;
        }
        m_bytes += reply->read(m_want - m_bytes.size());
        if (m_bytes.size() >= m_want) {
            disconnect(reply, nullptr, this, nullptr);
            reply->abort();
            reply->deleteLater();
            m_reply = reply; // onFinished reads the status and the bytes gathered
            onFinished();
        }
    });
    connect(m_reply, &QNetworkReply::finished, this, &RemoteGgufProbe::onFinished);
}

void RemoteGgufProbe::onFinished() {
    QNetworkReply* reply = m_reply;
    if (!reply) {
        return;
    }
    m_reply = nullptr;
    reply->deleteLater();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 300 && status < 400) {
        const QUrl next = m_current.resolved(QUrl::fromEncoded(reply->rawHeader("Location")));
        m_visited.insert(m_current);
        if (m_visited.contains(next) || m_visited.size() > 10) {
            emit failed(QStringLiteral("redirect loop while reading the header of %1")
                            .arg(m_url.toString(QUrl::RemoveQuery)));
            return;
        }
        m_current = next;
        request();
        return;
    }
    if (status == 401 || status == 403) {
        emit failed(
            QStringLiteral("gated model: accept the license on huggingface.co and set a token"));
        return;
    }
    if (status != 200 && status != 206) {
        emit failed(
            QStringLiteral("cannot read the header of %1: %2")
                .arg(m_url.toString(QUrl::RemoveQuery),
                     status ? QStringLiteral("HTTP %1").arg(status) : reply->errorString()));
        return;
    }
    m_bytes += reply->read(std::max<qint64>(0, m_want - m_bytes.size()));
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(m_bytes.constData()),
                                         static_cast<size_t>(m_bytes.size()));
    const std::optional<uint64_t> size =
        m_fileSize > 0 ? std::optional<uint64_t>(static_cast<uint64_t>(m_fileSize)) : std::nullopt;
    auto header = hearth::parse_gguf_header(bytes, size);
    if (!header) {
        // The metadata (a large vocabulary) runs past what we fetched: ask for more.
        const bool truncated = header.error().message.starts_with("file truncated");
        const bool more = m_bytes.size() >= m_want && (m_fileSize < 0 || m_want < m_fileSize);
        if (truncated && more && m_want < kMaxRequestBytes) {
            m_want *= 4;
            m_current = m_url;
            m_visited.clear();
            request();
            return;
        }
        emit failed(QString::fromStdString(header.error().message));
        return;
    }
    auto info = hearth::read_model_info(*header, size.value_or(0));
    if (!info) {
        emit failed(QString::fromStdString(info.error().message));
        return;
    }
    // A split model's first part holds a share of the tensors; its weights are all parts'.
    if (m_totalSize > 0 && m_totalSize > m_fileSize) {
        info->file_size = static_cast<uint64_t>(m_totalSize);
        info->weights_bytes = static_cast<uint64_t>(m_totalSize);
    }
    emit finished(*info);
}
