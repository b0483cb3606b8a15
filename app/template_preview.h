// The Template panel's state: the template chosen for the current conversation, the exact
// prompt the model will see with it (as text and as highlighted rich text), its token
// count and the warnings about the choice. The worker renders; this holds the result.
// GUI thread only.
#pragma once

#include <QColor>
#include <QObject>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

struct PromptPreview;

class TemplatePreview : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("TemplatePreview belongs to ChatController")
    // The choices: [{name, label, description}], "" (automatic) first.
    Q_PROPERTY(QVariantList templates READ templates CONSTANT)
    Q_PROPERTY(
        QString templateName READ templateName WRITE setTemplateName NOTIFY templateNameChanged)
    // Set by the panel while it is visible: previews are rendered only then.
    Q_PROPERTY(bool active READ active WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(
        QColor highlightColor READ highlightColor WRITE setHighlightColor NOTIFY previewChanged)
    Q_PROPERTY(QString text READ text NOTIFY previewChanged)
    Q_PROPERTY(QString html READ html NOTIFY previewChanged)
    Q_PROPERTY(int tokenCount READ tokenCount NOTIFY previewChanged)
    Q_PROPERTY(QString resolvedName READ resolvedName NOTIFY previewChanged)
    Q_PROPERTY(QString reason READ reason NOTIFY previewChanged)
    Q_PROPERTY(QStringList warnings READ warnings NOTIFY previewChanged)
    Q_PROPERTY(QString error READ error NOTIFY previewChanged)

public:
    explicit TemplatePreview(QObject* parent = nullptr);

    static QVariantList templates();
    QString templateName() const { return m_templateName; }
    void setTemplateName(const QString& name);
    bool active() const { return m_active; }
    void setActive(bool active);
    QColor highlightColor() const { return m_highlight; }
    void setHighlightColor(const QColor& color);
    QString text() const { return m_text; }
    QString html() const { return m_html; }
    int tokenCount() const { return m_tokenCount; }
    QString resolvedName() const { return m_resolvedName; }
    QString reason() const { return m_reason; }
    QStringList warnings() const { return m_warnings; }
    QString error() const { return m_error; }

    void setPreview(const PromptPreview& preview);
    // Escaped text in a <pre>, each special token in bold highlight colour.
    static QString highlight(const QString& text, const QStringList& specialTokens,
                             const QColor& color);

signals:
    void templateNameChanged();
    void activeChanged();
    void previewChanged();

private:
    QString m_templateName;
    bool m_active = false;
    QColor m_highlight{0x1a, 0x73, 0xe8};
    QString m_text;
    QString m_html;
    QStringList m_specialTokens;
    int m_tokenCount = 0;
    QString m_resolvedName;
    QString m_reason;
    QStringList m_warnings;
    QString m_error;
};
