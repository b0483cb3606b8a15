// Reads a remote GGUF file's header with Range requests (see the header).
#include "remote_gguf_probe.h"

#include "catalog.h"
#include "hearth/gguf.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <algorithm>

RemoteGgufProbe::RemoteGgufProbe(QNetworkAccessManager* network, QUrl url, QByteArray token,
                                 QUrl tokenOrigin, QObject* parent)
    : QObject(parent), m_network(network), m_url(std::move(url)), m_token(std::move(token)),
      m_tokenOrigin(std::move(tokenOrigin)) {}

void RemoteGgufProbe::start(qint64 fileSize, qint64 totalSize) {
    m_fileSize = fileSize;
    m_totalSize = totalSize;
    m_want = kFirstRequestBytes;
    m_redirects.start(m_url);
    request();
}

void RemoteGgufProbe::request() {
    QNetworkRequest request =
        HttpPolicy::makeRequest(m_redirects.current(), m_token, m_tokenOrigin);
    request.setRawHeader("Range", "bytes=0-" + QByteArray::number(m_want - 1));
    m_bytes.clear();
    m_reply = m_network->get(request);
    connect(m_reply, &QNetworkReply::readyRead, this, &RemoteGgufProbe::onReadyRead);
    connect(m_reply, &QNetworkReply::finished, this, &RemoteGgufProbe::onFinished);
}

void RemoteGgufProbe::onReadyRead() {
    QNetworkReply* reply = m_reply;
    if (!reply) {
        return;
    }
    const int status = HttpPolicy::statusOf(reply);
    if (status == 200 || status == 206) {
        // A server that ignores Range sends the whole file: stop reading at what we asked for.
        m_bytes += reply->read(m_want - m_bytes.size());
        if (m_bytes.size() < m_want) {
            return;
        }
    } else if (!HttpPolicy::discardUnwantedBody(reply)) {
        return; // a redirect or an error page: its headers say what to do once it ends
    }
    // Enough bytes, or an unwanted body that goes on and on: done with it.
    takeReply();
    reply->abort();
    handleResponse(reply);
}

void RemoteGgufProbe::onFinished() {
    QNetworkReply* reply = m_reply;
    if (!reply || sender() != reply) {
        return;
    }
    takeReply();
    handleResponse(reply);
}

QNetworkReply* RemoteGgufProbe::takeReply() {
    return HttpPolicy::takeReply(m_reply, this);
}

void RemoteGgufProbe::handleResponse(QNetworkReply* reply) {
    const int status = HttpPolicy::statusOf(reply);
    const QString shown = HttpPolicy::displayUrl(m_url);
    if (HttpPolicy::isRedirect(status)) {
        if (const auto next = m_redirects.follow(reply->rawHeader("Location")); !next) {
            emit failed(
                QStringLiteral("cannot read the header of %1: %2").arg(shown, next.error()));
            return;
        }
        request();
        return;
    }
    if (status == 401 || status == 403) {
        emit failed(
            QStringLiteral("gated model: accept the license on huggingface.co and set a token"));
        return;
    }
    if (reply->isOpen()) {
        m_bytes += reply->read(std::max<qint64>(0, m_want - m_bytes.size()));
    }
    const bool cutShort = m_bytes.size() < m_want && reply->error() != QNetworkReply::NoError;
    if ((status != 200 && status != 206) || cutShort) {
        const QString why = status != 200 && status != 206 && status != 0
                                ? QStringLiteral("HTTP %1").arg(status)
                                : HttpPolicy::failureText(reply);
        emit failed(QStringLiteral("cannot read the header of %1: %2").arg(shown, why));
        return;
    }
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
            m_redirects.start(m_url);
            request();
            return;
        }
        emit failed(QString::fromStdString(header.error().message));
        return;
    }
    // An architecture Hearth does not run is said before the other keys are read: they may
    // be ones read_model_info does not know (per-layer arrays of a hybrid model).
    if (const auto architecture = hearth::read_architecture(*header)) {
        const QString name = QString::fromStdString(*architecture);
        if (const QString why = cannotRunArchitecture(name); !why.isEmpty()) {
            emit unsupported(name, why);
            return;
        }
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

void checkBeforeDownload(QNetworkAccessManager* network, const QUrl& url, const QByteArray& token,
                         const QUrl& tokenOrigin, qint64 fileSize, QObject* context,
                         std::function<void(const QString& refusal)> done) {
    auto* probe = new RemoteGgufProbe(network, url, token, tokenOrigin, context);
    auto finish = [probe, done](const QString& refusal) {
        probe->disconnect();
        probe->deleteLater();
        done(refusal);
    };
    QObject::connect(probe, &RemoteGgufProbe::finished, context,
                     [finish](const hearth::ModelInfo&) { finish({}); });
    QObject::connect(probe, &RemoteGgufProbe::failed, context,
                     [finish](const QString&) { finish({}); });
    QObject::connect(probe, &RemoteGgufProbe::unsupported, context,
                     [finish](const QString&, const QString& message) { finish(message); });
    probe->start(fileSize);
}
