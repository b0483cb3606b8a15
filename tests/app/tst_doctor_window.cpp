// The doctor's notices drawn in the real window (Main.qml and the Hearth module, offscreen, on
// the default model): a reply with the llama-2 template and a temperature of 1.9 is diagnosed,
// and the notices are items the user sees — visible, with a height, inside the window, above
// the composer — whose fix button, clicked, applies the fix and whose ✕ dismisses the notice.
#include "chat_controller.h"
#include "doctor_api.h"
#include "test_support.h"

#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>
#include <algorithm>
#include <memory>

Q_IMPORT_QML_PLUGIN(HearthPlugin)

namespace {

// The items named `name` that the user can see under `root`, found through the visual tree
// (a Repeater's delegates are not their parent's QObject children): visible all the way up.
QList<QQuickItem*> shownItems(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> shown;
    if (!root->isVisible()) {
        return shown;
    }
    if (root->objectName() == name) {
        shown.append(root);
    }
    for (QQuickItem* child : root->childItems()) {
        shown += shownItems(child, name);
    }
    return shown;
}

// The first item named `name` in the visual tree under `root`, shown or not.
QQuickItem* findItem(QQuickItem* root, const QString& name) {
    if (root->objectName() == name) {
        return root;
    }
    for (QQuickItem* child : root->childItems()) {
        if (QQuickItem* found = findItem(child, name)) {
            return found;
        }
    }
    return nullptr;
}

// The item's rectangle in the window's coordinates.
QRectF inWindow(QQuickItem* item) {
    return item->mapRectToScene(QRectF(0, 0, item->width(), item->height()));
}

// Whether `item` is what a click at its centre reaches: no other item drawn over it there.
bool clickable(QQuickWindow* window, QQuickItem* item) {
    const QPointF centre = inWindow(item).center();
    QQuickItem* top = window->contentItem();
    for (QQuickItem* child = top->childAt(centre.x(), centre.y()); child;) {
        top = child;
        const QPointF local = top->mapFromScene(centre);
        child = top->childAt(local.x(), local.y());
    }
    for (QQuickItem* up = top; up; up = up->parentItem()) {
        if (up == item) {
            return true;
        }
    }
    return false;
}

QString describe(const QRectF& r) {
    return QStringLiteral("(%1, %2, %3×%4)").arg(r.x()).arg(r.y()).arg(r.width()).arg(r.height());
}

} // namespace

class TestDoctorWindow : public QObject {
    Q_OBJECT

private slots:
    void noticesAreDrawnAndTheirButtonsWork();
};

void TestDoctorWindow::noticesAreDrawnAndTheirButtonsWork() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    QQmlApplicationEngine engine;
    engine.setInitialProperties(
        {{QStringLiteral("modelPathArgument"), QString::fromStdString(modelPath.string())}});
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Hearth/Main.qml")));
    QVERIFY(!engine.rootObjects().isEmpty());
    auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().first());
    QVERIFY(window);
    auto* chat = window->property("controller").value<ChatController*>();
    QVERIFY(chat);
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QTRY_COMPARE_WITH_TIMEOUT(chat->modelState(), ChatController::ModelState::Ready, 120000);

    // Greedy, with llama-2's [INST] markup on this ChatML model: a template mismatch (as
    // tst_doctor_app); then a temperature of 1.9 for the second notice.
    chat->sampling()->applyPreset(QStringLiteral("Greedy"));
    chat->sampling()->setMaxTokens(hearth::kRunawayReplyTokens);
    chat->templatePreview()->setTemplateName(QStringLiteral("llama2"));
    QSignalSpy finished(chat, &ChatController::replyFinished);
    QVERIFY(chat->send(QStringLiteral("What is the capital of France?")));
    QVERIFY(finished.wait(180000));
    QVERIFY2(!chat->diagnoses().isEmpty(), "the controller found nothing to say");

    QQuickItem* content = window->contentItem();
    QQuickItem* column = findItem(content, QStringLiteral("doctorNoticesColumn"));
    QVERIFY(column);
    QTRY_VERIFY_WITH_TIMEOUT(column->isVisible(), 30000);
    // Laid out on the next frame: the notices have a size once the layout has run.
    QTRY_VERIFY_WITH_TIMEOUT(column->height() > 0, 30000);
    QList<QQuickItem*> notices = shownItems(content, QStringLiteral("doctorNotice"));
    QCOMPARE(notices.size(), chat->diagnoses().size());
    const QRectF windowRect(0, 0, window->width(), window->height());
    const QRectF composer = inWindow(findItem(content, QStringLiteral("composerInput")));
    for (QQuickItem* notice : notices) {
        const QRectF rect = inWindow(notice);
        QVERIFY2(notice->height() > 10 && notice->width() > 100, qPrintable(describe(rect)));
        QVERIFY2(windowRect.contains(rect), qPrintable(describe(rect) + " outside the window"));
        QVERIFY2(rect.bottom() <= composer.top(),
                 qPrintable(describe(rect) + " over the composer"));
        QVERIFY2(clickable(window, notice), qPrintable(describe(rect) + " covered"));
    }

    // The template mismatch's first fix, clicked: the model's own template, the notice gone.
    int mismatch = -1;
    for (qsizetype i = 0; i < chat->diagnoses().size(); ++i) {
        if (chat->diagnoses()[i].toMap().value(QStringLiteral("kind")).toString() ==
            QLatin1String("template_mismatch")) {
            mismatch = int(i);
        }
    }
    QVERIFY2(mismatch >= 0, "no template mismatch diagnosed");
    const qsizetype before = chat->diagnoses().size();
    QList<QQuickItem*> fixes = shownItems(notices[mismatch], QStringLiteral("noticeFix"));
    QVERIFY(!fixes.isEmpty());
    QVERIFY(clickable(window, fixes.first()));
    QTest::mouseClick(window, Qt::LeftButton, {}, inWindow(fixes.first()).center().toPoint());
    QTRY_COMPARE_WITH_TIMEOUT(chat->templatePreview()->templateName(), QString(), 30000);
    QCOMPARE(chat->diagnoses().size(), before - 1);
    QTRY_COMPARE_WITH_TIMEOUT(shownItems(content, QStringLiteral("doctorNotice")).size(),
                              before - 1, 30000);

    // A second reply at a temperature of 1.9: its notice drawn; ✕ dismisses it.
    chat->sampling()->setTemperature(1.9);
    chat->sampling()->setMaxTokens(8);
    finished.clear();
    QVERIFY(chat->send(QStringLiteral("Tell me a story.")));
    QVERIFY(finished.wait(180000));
    QVERIFY(!chat->diagnoses().isEmpty());
    // Laid out once the new notices have replaced the old: each one's ✕ is what a click hits.
    QList<QQuickItem*> dismiss;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            notices = shownItems(content, QStringLiteral("doctorNotice"));
            dismiss.clear();
            for (QQuickItem* notice : notices) {
                dismiss += shownItems(notice, QStringLiteral("dismissNotice"));
            }
            return notices.size() == chat->diagnoses().size() && dismiss.size() == notices.size() &&
                   std::all_of(dismiss.begin(), dismiss.end(),
                               [&](QQuickItem* button) { return clickable(window, button); });
        }(),
        30000);
    const qsizetype shown = chat->diagnoses().size();
    QTest::mouseClick(window, Qt::LeftButton, {}, inWindow(dismiss.first()).center().toPoint());
    QTRY_COMPARE_WITH_TIMEOUT(chat->diagnoses().size(), shown - 1, 30000);
}

int main(int argc, char* argv[]) {
    // A profile of its own: conversations and settings go to a temporary directory.
    QTemporaryDir profile;
    if (qEnvironmentVariableIsEmpty("HEARTH_TEST_MODEL")) {
        qputenv("HEARTH_TEST_MODEL",
                QByteArray::fromStdString(hearth::test::default_model_path().string()));
    }
    qputenv("XDG_DATA_HOME", profile.filePath(QStringLiteral("data")).toUtf8());
    qputenv("XDG_CONFIG_HOME", profile.filePath(QStringLiteral("config")).toUtf8());
    qputenv("HEARTH_MODELS_DIR", profile.filePath(QStringLiteral("models")).toUtf8());
    qputenv("HF_HUB_CACHE", profile.filePath(QStringLiteral("hf-hub")).toUtf8());
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("hearth"));
    QCoreApplication::setOrganizationName(QStringLiteral("hearth"));
    QQuickStyle::setStyle(QStringLiteral("Basic"));
    TestDoctorWindow test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_doctor_window.moc"
