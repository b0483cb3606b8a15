// The rules every HTTP request of the download path follows (see the header).
#include "http_policy.h"

#include <QNetworkReply>

namespace HttpPolicy {

namespace {

int defaultPort(const QUrl& url) {
    return url.scheme() == QLatin1String("https") ? 443 : 80;
}

} // namespace

bool sameOrigin(const QUrl& a, const QUrl& b) {
    return a.isValid() && b.isValid() && !a.host().isEmpty() &&
           a.scheme().compare(b.scheme(), Qt::CaseInsensitive) == 0 &&
           a.host().compare(b.host(), Qt::CaseInsensitive) == 0 &&
           a.port(defaultPort(a)) == b.port(defaultPort(b));
}

bool isHttp(const QUrl& url) {
    return url.isValid() && !url.host().isEmpty() &&
           (url.scheme() == QLatin1String("https") || url.scheme() == QLatin1String("http"));
}

QNetworkRequest makeRequest(const QUrl& url, const QByteArray& token, const QUrl& tokenOrigin,
                            int transferTimeoutMs) {
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::ManualRedirectPolicy);
    request.setTransferTimeout(transferTimeoutMs);
    request.setHeader(QNetworkRequest::UserAgentHeader, QByteArray("Hearth/" HEARTH_VERSION));
    request.setRawHeader("Accept-Encoding", "identity");
    if (!token.isEmpty() && sameOrigin(url, tokenOrigin)) {
        request.setRawHeader("Authorization", "Bearer " + token);
    }
    return request;
}

QString failureText(const QNetworkReply* reply, int transferTimeoutMs) {
    if (reply->error() == QNetworkReply::OperationCanceledError) {
        return QStringLiteral("no data from %1 for %2 s")
            .arg(reply->url().host())
            .arg(transferTimeoutMs / 1000.0);
    }
    return reply->errorString();
}

bool discardUnwantedBody(QNetworkReply* reply) {
    const qint64 discarded =
        reply->property("hearthDiscarded").toLongLong() + reply->readAll().size();
    reply->setProperty("hearthDiscarded", discarded);
    return discarded > kMaxUnwantedBodyBytes;
}

QNetworkReply* takeReply(QPointer<QNetworkReply>& reply, const QObject* receiver) {
    QNetworkReply* taken = reply;
    reply = nullptr;
    if (taken) {
        QObject::disconnect(taken, nullptr, receiver, nullptr);
        taken->deleteLater();
    }
    return taken;
}

int statusOf(const QNetworkReply* reply) {
    return reply ? reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() : 0;
}

bool isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

QString displayUrl(const QUrl& url) {
    return url.adjusted(QUrl::RemoveQuery | QUrl::RemoveUserInfo).toString();
}

void RedirectChain::start(const QUrl& url) {
    m_first = m_current = url;
    m_visited.clear();
    m_count = 0;
}

std::expected<QUrl, QString> RedirectChain::follow(const QByteArray& location) {
    if (location.isEmpty()) {
        return std::unexpected(QStringLiteral("a redirect without a Location header from %1")
                                   .arg(displayUrl(m_current)));
    }
    const QUrl next = m_current.resolved(QUrl::fromEncoded(location));
    m_visited.insert(m_current);
    if (m_visited.contains(next)) {
        return std::unexpected(QStringLiteral("redirect loop: %1 leads back to %2")
                                   .arg(displayUrl(m_current), displayUrl(next)));
    }
    if (++m_count > m_maxRedirects) {
        return std::unexpected(QStringLiteral("too many redirects (more than %1) from %2")
                                   .arg(m_maxRedirects)
                                   .arg(displayUrl(m_first)));
    }
    if (!isHttp(next)) {
        return std::unexpected(
            QStringLiteral("refusing a redirect from %1 to %2: only http and https are fetched")
                .arg(displayUrl(m_current), displayUrl(next)));
    }
    if (m_current.scheme() == QLatin1String("https") && next.scheme() != QLatin1String("https")) {
        return std::unexpected(
            QStringLiteral("refusing a redirect from https to %1").arg(displayUrl(next)));
    }
    m_current = next;
    return next;
}

} // namespace HttpPolicy
