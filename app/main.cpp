// Hearth's desktop application: parses the command line, hands a model file to the Hearth
// already running (one window per user and profile), picks the Controls style and loads the
// QML module's main window. Everything else lives in the Hearth QML module.
#include "chat_controller.h"
#include "hearth/prefill_numerics.h"
#include "single_instance.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QUrl>
#include <QtQml/qqmlextensionplugin.h>
#include <cstdio>
#include <memory>
#include <optional>

Q_IMPORT_QML_PLUGIN(HearthPlugin)

namespace {

// --version and --help need no display: answer them before a window system is opened.
bool wantsInformationOnly(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "--version" || arg == "-v" || arg == "--help" || arg == "-h" ||
            arg == "--help-all") {
            return true;
        }
    }
    return false;
}

// An absolute path, so that the running instance (whose working folder differs) finds the
// file; a file:// URL (what "Open with" may pass) becomes its path.
QString absoluteModelPath(const QString& argument) {
    if (argument.isEmpty()) {
        return {};
    }
    if (RemoteServers::isRemotePath(argument)) {
        return argument; // a remote server's entry (the Models panel's "remote:<id>")
    }
    const QUrl url(argument);
    const QString path = url.isLocalFile() ? url.toLocalFile() : argument;
    return QFileInfo(path).absoluteFilePath();
}

// What a second launch asks of the first: the window in front, its file in a new chat.
void answerLaunch(QQmlApplicationEngine& engine, const QStringList& arguments) {
    if (engine.rootObjects().isEmpty()) {
        return;
    }
    QObject* root = engine.rootObjects().constFirst();
    if (auto* window = qobject_cast<QQuickWindow*>(root)) {
        window->setWindowStates(window->windowStates() & ~Qt::WindowMinimized);
        window->show();
        window->raise();
        window->requestActivate();
    }
    const QString path = arguments.value(0);
    auto* controller = qvariant_cast<ChatController*>(root->property("controller"));
    if (controller && !path.isEmpty()) {
        controller->openModelInNewConversation(path);
    }
}

} // namespace

int main(int argc, char* argv[]) {
    std::unique_ptr<QCoreApplication> app = wantsInformationOnly(argc, argv)
                                                ? std::make_unique<QCoreApplication>(argc, argv)
                                                : std::make_unique<QGuiApplication>(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("hearth"));
    QCoreApplication::setOrganizationName(QStringLiteral("hearth"));
    QCoreApplication::setApplicationVersion(QStringLiteral(HEARTH_VERSION));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Hearth"));
    QGuiApplication::setDesktopFileName(QStringLiteral("hearth"));
    // The installed icon (packaging/icons), for desktops that take it from the window; there is
    // no window, and no icon to set, for --version and --help.
    if (qobject_cast<QGuiApplication*>(app.get())) {
        QGuiApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("hearth")));
    }

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Chat with language models on this computer."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        QStringLiteral("model"),
        QStringLiteral("A GGUF model to load (default: the last one used, "
                       "else SmolLM2-135M-Instruct in the models folder)."),
        QStringLiteral("[model]"));
    const QCommandLineOption themeOption(QStringLiteral("theme"),
                                         QStringLiteral("Colour scheme: system, light or dark."),
                                         QStringLiteral("scheme"));
    const QCommandLineOption demoOption(QStringLiteral("demo-prompt"),
                                        QStringLiteral("Send TEXT once the model is loaded (for "
                                                       "screenshots and demonstrations)."),
                                        QStringLiteral("text"));
    const QCommandLineOption panelOption(
        QStringLiteral("panel"),
        QStringLiteral("Open a side panel: models, sampling, template or gauge "
                       "(or download: the Models panel's Download tab; remote: its Remote server "
                       "tab, testing the remote server in use; checklist: the Models panel with "
                       "the model's pre-flight checklist; inspector: the last "
                       "reply's tokens; compare: the Compare view; copyas: \"Copy as…\" on the "
                       "reply; lab: the Quantization lab for the model, started by "
                       "--demo-prompt)."),
        QStringLiteral("name"));
    const QCommandLineOption newInstanceOption(
        QStringLiteral("new-instance"),
        QStringLiteral("Open a window of its own even when Hearth is already running."));
    const QCommandLineOption compareWithOption(
        QStringLiteral("compare-with"),
        QStringLiteral("With --panel compare and --demo-prompt: column 2 runs FILE (another "
                       "quantization of the model), greedy, and the reply is coloured by where "
                       "their token distributions diverge."),
        QStringLiteral("file"));
    parser.addOptions({themeOption, demoOption, panelOption, newInstanceOption, compareWithOption});
    parser.process(*app);

    const QString modelPath = absoluteModelPath(parser.positionalArguments().value(0));
    std::optional<SingleInstance> instance;
    if (!parser.isSet(newInstanceOption)) {
        instance.emplace(SingleInstance::defaultKey());
        if (instance->claim({modelPath}) == SingleInstance::Role::Forwarded) {
            std::fprintf(stderr, "hearth: handed over to the Hearth window already running\n");
            return 0;
        }
    }

    // Basic draws everything from the palette, which the Theme sets: light and dark alike.
    QQuickStyle::setStyle(QStringLiteral("Basic"));

    QQmlApplicationEngine engine;
    engine.setInitialProperties({
        {QStringLiteral("modelPathArgument"), modelPath},
        {QStringLiteral("themeArgument"), parser.value(themeOption)},
        {QStringLiteral("demoPrompt"), parser.value(demoOption)},
        {QStringLiteral("panelArgument"), parser.value(panelOption)},
        {QStringLiteral("compareWithArgument"),
         parser.isSet(compareWithOption) ? absoluteModelPath(parser.value(compareWithOption))
                                         : QString()},
    });
    QObject::connect(
        &engine, &QQmlApplicationEngine::objectCreationFailed, app.get(),
        [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Hearth/Main.qml")));
    if (engine.rootObjects().isEmpty()) {
        std::fprintf(stderr, "hearth: the main window could not be created\n");
        return 1;
    }
    // `hearth FILE`: Main.qml's start() has loaded FILE; it gets a conversation of its own
    // (--demo-prompt has opened one already, and sent to it). start() passes over a file
    // that is not there; loading it anyway puts the reason in the window.
    auto* controller =
        qvariant_cast<ChatController*>(engine.rootObjects().constFirst()->property("controller"));
    if (controller && !modelPath.isEmpty()) {
        // A remote entry ("remote:<id>") start() has connected to, unless it is not listed.
        const bool missing = RemoteServers::isRemotePath(modelPath)
                                 ? controller->remoteServers()->nameOf(modelPath).isEmpty()
                                 : !QFileInfo::exists(modelPath);
        if (missing) {
            controller->loadModel(modelPath);
        } else if (!parser.isSet(demoOption)) {
            controller->newConversation();
        }
    }
    if (instance) {
        QObject::connect(
            &*instance, &SingleInstance::messageReceived, &engine,
            [&engine](const QStringList& arguments) { answerLaunch(engine, arguments); });
    }
    return QGuiApplication::exec();
}
