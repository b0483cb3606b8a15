// Hearth's desktop application: parses the command line, picks the Controls style and
// loads the QML module's main window. Everything else lives in the Hearth QML module.
#include <QCommandLineParser>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QUrl>
#include <QtQml/qqmlextensionplugin.h>
#include <cstdio>
#include <memory>

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
        QStringLiteral("panel"), QStringLiteral("Open a side panel: sampling, template or gauge."),
        QStringLiteral("name"));
    parser.addOptions({themeOption, demoOption, panelOption});
    parser.process(*app);

    // Basic draws everything from the palette, which the Theme sets: light and dark alike.
    QQuickStyle::setStyle(QStringLiteral("Basic"));

    QQmlApplicationEngine engine;
    const QStringList positional = parser.positionalArguments();
    engine.setInitialProperties({
        {QStringLiteral("modelPathArgument"), positional.value(0)},
        {QStringLiteral("themeArgument"), parser.value(themeOption)},
        {QStringLiteral("demoPrompt"), parser.value(demoOption)},
        {QStringLiteral("panelArgument"), parser.value(panelOption)},
    });
    QObject::connect(
        &engine, &QQmlApplicationEngine::objectCreationFailed, app.get(),
        [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Hearth/Main.qml")));
    if (engine.rootObjects().isEmpty()) {
        std::fprintf(stderr, "hearth: the main window could not be created\n");
        return 1;
    }
    return QGuiApplication::exec();
}
