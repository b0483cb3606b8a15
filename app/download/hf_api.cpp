// Hugging Face Hub: references, URLs and the GGUF files of a repository (see the header).
#include "hf_api.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QRegularExpression>
#include <map>
#include <memory>

namespace HfApi {

namespace {

const QRegularExpression& splitPattern() {
    static const QRegularExpression pattern(QStringLiteral(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)"),
                                            QRegularExpression::CaseInsensitiveOption);
    return pattern;
}

bool isRepoName(const QString& text) {
    static const QRegularExpression pattern(QStringLiteral(R"(^[\w.\-]+/[\w.\-]+$)"));
    return pattern.match(text).hasMatch();
}

QString envString(const char* name) {
    return qEnvironmentVariable(name).trimmed();
}

} // namespace

QUrl endpoint() {
    for (const char* name : {"HEARTH_HF_ENDPOINT", "HF_ENDPOINT"}) {
        if (const QString value = envString(name); !value.isEmpty()) {
            return QUrl(value.endsWith('/') ? value.chopped(1) : value);
        }
    }
    return QUrl(QStringLiteral("https://huggingface.co"));
}

QByteArray tokenFromEnvironment(const QByteArray& fallback) {
    for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
        if (const QString value = envString(name); !value.isEmpty()) {
            return value.toUtf8();
        }
    }
    return fallback;
}

std::expected<ModelReference, QString> parseReference(const QString& input) {
    const QString text = input.trimmed();
    const auto usage = [&] {
        return QStringLiteral("'%1' is not a model reference: expected owner/repo, "
                              "owner/repo:file.gguf or an https:// link")
            .arg(text);
    };
    if (text.isEmpty()) {
        return std::unexpected(QStringLiteral("no model given: expected owner/repo, "
                                              "owner/repo:file.gguf or an https:// link"));
    }
    if (!text.contains(QLatin1String("://"))) {
        ModelReference reference;
        const qsizetype colon = text.indexOf(':');
        reference.repo = colon < 0 ? text : text.left(colon);
        reference.file = colon < 0 ? QString() : text.mid(colon + 1);
        if (!isRepoName(reference.repo) || (colon >= 0 && reference.file.isEmpty())) {
            return std::unexpected(usage());
        }
        return reference;
    }
    const QUrl url(text);
    if (!url.isValid() ||
        (url.scheme() != QLatin1String("https") && url.scheme() != QLatin1String("http"))) {
        return std::unexpected(usage());
    }
    const QUrl hub = endpoint();
    const QString host = url.host().toLower();
    const bool onHub = (host == hub.host().toLower() && url.port() == hub.port()) ||
                       host == QLatin1String("huggingface.co") || host == QLatin1String("hf.co") ||
                       host == QLatin1String("www.huggingface.co");
    ModelReference reference;
    if (!onHub) {
        reference.url = url;
        return reference;
    }
    // /owner/repo[/(tree|blob|resolve)/REV[/path...]]
    const QStringList segments = url.path().split('/', Qt::SkipEmptyParts);
    if (segments.size() < 2) {
        return std::unexpected(usage());
    }
    reference.repo = segments[0] + '/' + segments[1];
    if (segments.size() >= 4 &&
        (segments[2] == QLatin1String("tree") || segments[2] == QLatin1String("blob") ||
         segments[2] == QLatin1String("resolve"))) {
        reference.revision = segments[3];
        reference.file = segments.mid(4).join('/');
    } else if (segments.size() > 2) {
        return std::unexpected(usage());
    }
    if (!isRepoName(reference.repo)) {
        return std::unexpected(usage());
    }
    return reference;
}

QUrl resolveUrl(const QString& repo, const QString& file, const QString& revision) {
    QUrl url = endpoint();
    url.setPath(QStringLiteral("/%1/resolve/%2/%3").arg(repo, revision, file));
    return url;
}

QUrl treeUrl(const QString& repo, const QString& revision) {
    QUrl url = endpoint();
    url.setPath(QStringLiteral("/api/models/%1/tree/%2").arg(repo, revision));
    url.setQuery(QStringLiteral("recursive=1"));
    return url;
}

std::expected<QList<RemoteFile>, QString> parseTree(const QByteArray& json) {
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError) {
        return std::unexpected(QStringLiteral("the repository listing is not JSON: %1 at offset %2")
                                   .arg(error.errorString())
                                   .arg(error.offset));
    }
    if (!document.isArray()) {
        return std::unexpected(QStringLiteral("the repository listing is not a JSON array"));
    }
    QList<RemoteFile> files;
    for (const QJsonValue& value : document.array()) {
        const QJsonObject object = value.toObject();
        if (object.value("type").toString() != QLatin1String("file")) {
            continue;
        }
        RemoteFile file;
        file.path = object.value("path").toString();
        const QJsonObject lfs = object.value("lfs").toObject();
        file.size = lfs.contains("size") ? lfs.value("size").toInteger(-1)
                                         : object.value("size").toInteger(-1);
        file.sha256 = lfs.value("oid").toString().toLower();
        if (!file.path.isEmpty()) {
            files.append(file);
        }
    }
    return files;
}

QString quantizationFromName(const QString& file) {
    static const QRegularExpression pattern(
        QStringLiteral(R"((?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|BF16|F16|F32|FP16)(?=[-_.]))"),
        QRegularExpression::CaseInsensitiveOption);
    QString found;
    auto it = pattern.globalMatch(file);
    while (it.hasNext()) {
        found = it.next().captured(1).toUpper(); // the last match: names often end with it
    }
    return found == QLatin1String("FP16") ? QStringLiteral("F16") : found;
}

QStringList splitPartNames(const QString& file) {
    const auto match = splitPattern().match(file);
    if (!match.hasMatch()) {
        return {file};
    }
    const int count = match.captured(3).toInt();
    QStringList names;
    for (int i = 1; i <= count; ++i) {
        names.append(QStringLiteral("%1-%2-of-%3.gguf")
                         .arg(match.captured(1))
                         .arg(i, 5, 10, QLatin1Char('0'))
                         .arg(match.captured(3)));
    }
    return names;
}

QList<GgufChoice> groupGguf(const QList<RemoteFile>& files) {
    QList<GgufChoice> choices;
    std::map<QString, std::pair<int, std::map<int, RemoteFile>>> splits; // stem -> (count, parts)
    for (const RemoteFile& file : files) {
        if (!file.path.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) {
            continue;
        }
        if (const auto match = splitPattern().match(file.path); match.hasMatch()) {
            auto& [count, parts] = splits[match.captured(1)];
            count = match.captured(3).toInt();
            parts[match.captured(2).toInt()] = file;
            continue;
        }
        GgufChoice choice;
        choice.name = file.path;
        choice.quantization = quantizationFromName(file.path);
        choice.parts = {file};
        choice.totalSize = file.size;
        choices.append(choice);
    }
    for (const auto& [stem, entry] : splits) {
        const auto& [count, parts] = entry;
        GgufChoice choice;
        choice.name = stem + QStringLiteral(".gguf");
        choice.quantization = quantizationFromName(choice.name);
        choice.totalSize = 0;
        for (const auto& [index, part] : parts) {
            choice.parts.append(part);
            choice.totalSize =
                choice.totalSize < 0 || part.size < 0 ? -1 : choice.totalSize + part.size;
        }
        choice.complete = static_cast<int>(parts.size()) == count && parts.begin()->first == 1 &&
                          parts.rbegin()->first == count;
        choices.append(choice);
    }
    std::sort(choices.begin(), choices.end(),
              [](const GgufChoice& a, const GgufChoice& b) { return a.name < b.name; });
    return choices;
}

namespace {

// One page of the listing; the next page's URL comes in a Link header (rel="next").
void fetchPage(QNetworkAccessManager* network, const QUrl& url, const QString& repo,
               const QByteArray& token, QPointer<QObject> context,
               std::shared_ptr<QList<RemoteFile>> files,
               std::function<void(std::expected<QList<GgufChoice>, QString>)> done) {
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::SameOriginRedirectPolicy);
    request.setTransferTimeout(30000);
    if (!token.isEmpty()) {
        request.setRawHeader("Authorization", "Bearer " + token);
    }
    QNetworkReply* reply = network->get(request);
    QObject::connect(reply, &QNetworkReply::finished, context, [=] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status == 401 || status == 403) {
            done(
                std::unexpected(QStringLiteral("gated or private repository %1: accept the license "
                                               "on huggingface.co and set a token (HF_TOKEN)")
                                    .arg(repo)));
            return;
        }
        if (status == 404) {
            done(std::unexpected(QStringLiteral("repository not found: %1").arg(repo)));
            return;
        }
        if (reply->error() != QNetworkReply::NoError) {
            done(std::unexpected(
                QStringLiteral("cannot list %1: %2").arg(repo, reply->errorString())));
            return;
        }
        auto page = parseTree(reply->readAll());
        if (!page) {
            done(std::unexpected(page.error()));
            return;
        }
        files->append(*page);
        static const QRegularExpression next(QStringLiteral(R"(<([^>]+)>\s*;\s*rel="next")"));
        if (const auto match = next.match(QString::fromLatin1(reply->rawHeader("Link")));
            match.hasMatch()) {
            fetchPage(network, url.resolved(QUrl(match.captured(1))), repo, token, context, files,
                      done);
            return;
        }
        done(groupGguf(*files));
    });
}

} // namespace

void listGguf(QNetworkAccessManager* network, const QString& repo, const QByteArray& token,
              QObject* context,
              std::function<void(std::expected<QList<GgufChoice>, QString>)> done) {
    fetchPage(network, treeUrl(repo), repo, token, context, std::make_shared<QList<RemoteFile>>(),
              std::move(done));
}

} // namespace HfApi
