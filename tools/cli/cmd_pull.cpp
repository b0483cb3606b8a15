// `hearth-cli pull (URL | owner/repo[:file] | catalog-id) [--dir D] [--sha256 X] [--quant Q]
// [--token-env VAR] [--force]`: downloads a model as the app does (hearth_download, Qt
// Core/Network), with a progress bar on stderr. The file appears under its final name only
// once its size and SHA-256 are checked; an interrupted pull resumes from NAME.part when run
// again. A model Hearth cannot run (its header's architecture, or a catalog entry not yet
// runnable) is refused unless --force.
#include "catalog.h"
#include "cli_args.h"
#include "commands.h"
#include "download_manager.h"
#include "hf_api.h"
#include "remote_gguf_probe.h"

#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QFileInfo>
#include <QLocale>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QTimer>
#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

namespace hearth::cli {
namespace {

std::string sizeText(qint64 bytes) {
    return bytes < 0
               ? std::string("?")
               : QLocale::c().formattedDataSize(bytes, 1, QLocale::DataSizeIecFormat).toStdString();
}

// Hearth's models directory, by the rule the app's ModelLocator follows.
QString modelsDirectory() {
    if (const QString dir = qEnvironmentVariable("HEARTH_MODELS_DIR"); !dir.isEmpty()) {
        return dir;
    }
    QString data = qEnvironmentVariable("XDG_DATA_HOME");
    if (data.isEmpty()) {
        data = QDir::homePath() + "/.local/share";
    }
    return data + "/hearth/models";
}

struct PullPlan {
    QList<HfApi::RemoteFile> files; // path is a URL path inside the repo, or empty for `url`
    QString repo;
    QUrl directUrl;
};

// Runs the event loop until `done` is called; returns its value.
template <class T>
T waitFor(std::function<void(std::function<void(T)>)> start) {
    std::optional<T> value;
    QEventLoop loop;
    start([&](T result) {
        value = std::move(result);
        loop.quit();
    });
    if (!value) {
        loop.exec();
    }
    return std::move(*value);
}

void printChoices(const QString& repo, const QList<HfApi::GgufChoice>& choices) {
    std::fprintf(stderr,
                 "hearth-cli: %s has %lld GGUF files; choose one with owner/repo:FILE or "
                 "--quant:\n",
                 qPrintable(repo), static_cast<long long>(choices.size()));
    for (const auto& choice : choices) {
        std::printf("  %-60s %10s%s\n", qPrintable(choice.name), sizeText(choice.totalSize).c_str(),
                    choice.parts.size() > 1
                        ? fmt::format("  ({} parts)", choice.parts.size()).c_str()
                        : "");
    }
}

// Picks the file of a repository listing: by name (a file or a split file's first part),
// by quantization, or the only one. 0: chosen; 1: error; 2: the user must choose.
int choose(const QString& repo, const QList<HfApi::GgufChoice>& choices, const QString& file,
           const QString& quant, QList<HfApi::RemoteFile>& out) {
    if (choices.isEmpty()) {
        return report_error(fmt::format("{} has no GGUF files", repo.toStdString()).c_str());
    }
    QList<HfApi::GgufChoice> matches;
    for (const auto& choice : choices) {
        const bool byName =
            !file.isEmpty() && (choice.name == file ||
                                std::any_of(choice.parts.begin(), choice.parts.end(),
                                            [&](const auto& part) { return part.path == file; }));
        const bool byQuant = file.isEmpty() && !quant.isEmpty() &&
                             choice.quantization.compare(quant, Qt::CaseInsensitive) == 0;
        if (byName || byQuant) {
            matches.append(choice);
        }
    }
    if (file.isEmpty() && quant.isEmpty() && choices.size() == 1) {
        matches = choices;
    }
    if (matches.size() == 1) {
        if (!matches[0].complete) {
            return report_error(fmt::format("{}: parts of this split file are missing from the "
                                            "repository",
                                            matches[0].name.toStdString())
                                    .c_str());
        }
        out = matches[0].parts;
        return 0;
    }
    if (!file.isEmpty()) {
        std::fprintf(stderr, "hearth-cli: %s has no file %s\n", qPrintable(repo), qPrintable(file));
        printChoices(repo, choices);
        return 1;
    }
    printChoices(repo, choices);
    return 2;
}

class ProgressBar {
public:
    explicit ProgressBar(const DownloadManager& manager) : m_manager(manager), m_tty(isatty(2)) {}
    void draw(bool last) {
        qint64 received = 0;
        qint64 total = 0;
        double speed = 0;
        for (const DownloadTask* task : m_manager.tasks()) {
            received += task->bytesReceived();
            total = total < 0 || task->bytesTotal() < 0 ? -1 : total + task->bytesTotal();
            speed += task->bytesPerSecond();
        }
        if (!m_tty) {
            return;
        }
        constexpr int width = 30;
        const double fraction = total > 0 ? static_cast<double>(received) / total : 0;
        const int filled = static_cast<int>(fraction * width);
        std::string bar = std::string(filled, '#') + std::string(width - filled, '-');
        std::string eta = "--:--";
        if (speed > 0 && total > 0) {
            const auto seconds = static_cast<long long>((total - received) / speed);
            eta = fmt::format("{}:{:02}", seconds / 60, seconds % 60);
        }
        std::fprintf(stderr, "\r[%s] %5.1f%%  %s / %s  %s/s  %s left   %s", bar.c_str(),
                     fraction * 100, sizeText(received).c_str(), sizeText(total).c_str(),
                     sizeText(static_cast<qint64>(speed)).c_str(), eta.c_str(), last ? "\n" : "");
        std::fflush(stderr);
    }

private:
    const DownloadManager& m_manager;
    bool m_tty;
};

int pull(const Args& args) {
    if (args.positionals.size() != 1) {
        return usage_error(*args.spec, "expects one URL, OWNER/REPO[:FILE] or catalog id");
    }
    const QString what = QString::fromStdString(args.positionals[0]);
    const QString dir =
        args.get("--dir") ? QString::fromStdString(*args.get("--dir")) : modelsDirectory();
    const QString quant = QString::fromStdString(args.get("--quant").value_or(""));
    QString sha256 = QString::fromStdString(args.get("--sha256").value_or("")).toLower();
    if (!sha256.isEmpty() && !QRegularExpression("^[0-9a-f]{64}$").match(sha256).hasMatch()) {
        return report_error("--sha256 wants 64 hexadecimal digits");
    }
    QByteArray token = HfApi::tokenFromEnvironment();
    if (const auto variable = args.get("--token-env")) {
        token = qgetenv(variable->c_str());
        if (token.isEmpty()) {
            return report_error(
                fmt::format("--token-env: the environment variable {} is empty", *variable)
                    .c_str());
        }
    }

    // What to fetch: a catalog entry, a repository (listed through the API), or a URL.
    QString repo;
    QString file;
    QUrl directUrl;
    QString refusal; // why Hearth cannot run it, when the catalog already says
    auto catalog = builtinCatalog();
    if (!catalog) {
        return report_error(catalog.error().toUtf8().constData());
    }
    if (const CatalogEntry* entry = findCatalogEntry(*catalog, what)) {
        repo = entry->repo;
        const CatalogFile* chosen = &entry->files.front();
        for (const CatalogFile& candidate : entry->files) {
            if (candidate.quantization.compare(quant, Qt::CaseInsensitive) == 0) {
                chosen = &candidate;
            }
        }
        if (!quant.isEmpty() && chosen->quantization.compare(quant, Qt::CaseInsensitive) != 0) {
            QStringList known;
            for (const CatalogFile& candidate : entry->files) {
                known << candidate.quantization;
            }
            return report_error(fmt::format("{} has no quantization {} in the catalog (has {})",
                                            what.toStdString(), quant.toStdString(),
                                            known.join(", ").toStdString())
                                    .c_str());
        }
        file = chosen->file;
        refusal = !entry->cannotRun.isEmpty() ? entry->cannotRun : chosen->cannotRun;
    } else {
        auto reference = HfApi::parseReference(what);
        if (!reference) {
            std::fprintf(stderr, "hearth-cli: %s (or a catalog id: hearth-cli pull --list)\n",
                         qPrintable(reference.error()));
            return 2;
        }
        repo = reference->repo;
        file = reference->file;
        directUrl = reference->url;
    }

    QNetworkAccessManager network;
    QList<HfApi::RemoteFile> files;
    if (directUrl.isValid()) {
        files.append({directUrl.toString(), -1, sha256});
    } else {
        auto listing = waitFor<std::expected<QList<HfApi::GgufChoice>, QString>>(
            [&](auto done) { HfApi::listGguf(&network, repo, token, &network, done); });
        if (!listing) {
            return report_error(listing.error().toUtf8().constData());
        }
        if (const int status = choose(repo, *listing, file, quant, files); status != 0) {
            return status;
        }
    }
    if (!sha256.isEmpty()) {
        if (files.size() != 1) {
            return report_error("--sha256 applies to a single file, not to a split model");
        }
        if (!files[0].sha256.isEmpty() && files[0].sha256 != sha256) {
            return report_error(fmt::format("--sha256 {} differs from the repository's {}",
                                            sha256.toStdString(), files[0].sha256.toStdString())
                                    .c_str());
        }
        files[0].sha256 = sha256;
    }

    DownloadManager manager;
    manager.setMaxConcurrent(static_cast<int>(files.size())); // the parts of a split file together
    manager.setToken(token, HfApi::endpoint());               // sent to the Hub's origin only
    if (const int ms = qEnvironmentVariableIntValue("HEARTH_DOWNLOAD_RETRY_MS"); ms > 0) {
        DownloadOptions options;
        options.retryBaseDelayMs = ms; // tests: quick retries
        manager.setOptions(options);
    }
    const QString group = files.size() > 1 ? files[0].path : QString();
    QList<DownloadState> requests;
    QStringList destinations;
    for (const auto& remote : files) {
        DownloadState request;
        request.url = directUrl.isValid() ? directUrl : HfApi::resolveUrl(repo, remote.path);
        auto destination = DownloadState::destinationIn(dir, request.url);
        if (!destination) {
            return report_error(destination.error().toUtf8().constData());
        }
        if (destinations.contains(*destination)) {
            return report_error(fmt::format("two files of {} would be saved as {}",
                                            what.toStdString(),
                                            QDir::toNativeSeparators(*destination).toStdString())
                                    .c_str());
        }
        request.destination = *destination;
        request.expectedSize = remote.size;
        request.sha256 = remote.sha256;
        request.group = group;
        destinations << request.destination;
        requests << request;
    }
    // The header before the download (once the names are known good): a model Hearth cannot
    // run is not downloaded unless the user insists.
    if (refusal.isEmpty()) {
        refusal = waitFor<QString>([&](auto done) {
            checkBeforeDownload(&network, requests[0].url, token, HfApi::endpoint(), files[0].size,
                                &network, done);
        });
    }
    if (!refusal.isEmpty()) {
        if (!args.has("--force")) {
            return report_error(
                fmt::format("{}; --force downloads it anyway", refusal.toStdString()).c_str());
        }
        std::fprintf(stderr, "hearth-cli: %s; downloading it anyway (--force)\n",
                     qPrintable(refusal));
    }
    std::fprintf(stderr, "pulling %s into %s\n",
                 qPrintable(destinations.size() == 1
                                ? QFileInfo(destinations[0]).fileName()
                                : QStringLiteral("%1 parts").arg(destinations.size())),
                 qPrintable(QDir::toNativeSeparators(dir)));

    ProgressBar bar(manager);
    QTimer redraw;
    QObject::connect(&redraw, &QTimer::timeout, [&] { bar.draw(false); });
    redraw.start(200);
    int status = -1;
    QString failure;
    qsizetype finished = 0;
    QEventLoop loop;
    // Listening before enqueue(): a task can fail (a directory that cannot be made, a disk too
    // small) or finish (an empty file) before enqueue() returns.
    QObject::connect(&manager, &DownloadManager::taskFailed,
                     [&](DownloadTask*, const QString& message) {
                         if (status < 0) {
                             failure = message;
                             status = 1;
                             loop.quit();
                         }
                     });
    QObject::connect(&manager, &DownloadManager::taskFinished, [&](DownloadTask*, const QString&) {
        if (++finished == requests.size() && status < 0) {
            status = 0;
            loop.quit();
        }
    });
    for (const DownloadState& request : requests) {
        manager.enqueue(request);
        if (status == 1) {
            break; // the other parts would only be stopped
        }
    }
    if (status < 0) {
        loop.exec();
    }
    redraw.stop();
    bar.draw(true);
    if (status != 0) {
        // The other parts stop; what they have stays in NAME.part for the next pull.
        return report_error(failure.toUtf8().constData());
    }
    for (const QString& path : destinations) {
        std::printf("%s\n", qPrintable(QDir::toNativeSeparators(path)));
    }
    return 0;
}

} // namespace

int cmd_pull(const Args& args) {
    int qtArgc = 1;
    char name[] = "hearth-cli";
    char* qtArgv[] = {name, nullptr};
    QCoreApplication app(qtArgc, qtArgv);
    if (args.has("--list")) {
        auto catalog = builtinCatalog();
        if (!catalog) {
            return report_error(catalog.error().toUtf8().constData());
        }
        for (const CatalogEntry& entry : *catalog) {
            QStringList quants;
            bool runs = entry.cannotRun.isEmpty();
            for (const CatalogFile& file : entry.files) {
                quants << file.quantization;
                runs = runs && file.cannotRun.isEmpty();
            }
            // Entries Hearth cannot run yet say so: pulling them needs --force.
            std::printf("%-36s %-10s %-60s %s%s\n", qPrintable(entry.id),
                        qPrintable(entry.architecture), qPrintable(entry.repo),
                        qPrintable(quants.join(' ')), runs ? "" : "  (not yet runnable)");
        }
        return 0;
    }
    return pull(args);
}

} // namespace hearth::cli
