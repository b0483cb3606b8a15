// Template choices, and the rendered prompt with its special tokens highlighted.
#include "template_preview.h"

#include "engine_worker.h"
#include "hearth/chat_template.h"

#include <QRegularExpression>
#include <algorithm>

TemplatePreview::TemplatePreview(QObject* parent) : QObject(parent) {}

QVariantList TemplatePreview::templates() {
    QVariantList list;
    auto add = [&list](const QString& name, const QString& label, const QString& description) {
        list << QVariantMap{{QStringLiteral("name"), name},
                            {QStringLiteral("label"), label},
                            {QStringLiteral("description"), description}};
    };
    add({}, QStringLiteral("Automatic"),
        QStringLiteral("The model's own template, else one matched from its vocabulary"));
    add(QStringLiteral("model"), QStringLiteral("Model's own"),
        QStringLiteral("The template embedded in the GGUF file"));
    for (const hearth::BuiltinTemplate& builtin : hearth::builtin_templates()) {
        add(QString::fromStdString(builtin.name), QString::fromStdString(builtin.name),
            QString::fromStdString(builtin.description));
    }
    if (!hearth::find_builtin_template("raw")) {
        add(QStringLiteral("raw"), QStringLiteral("raw"),
            QStringLiteral("No template: the messages joined, as a base model continues text"));
    }
    return list;
}

void TemplatePreview::setTemplateName(const QString& name) {
    if (m_templateName != name) {
        m_templateName = name;
        emit templateNameChanged();
    }
}

void TemplatePreview::setActive(bool active) {
    if (m_active != active) {
        m_active = active;
        emit activeChanged();
    }
}

void TemplatePreview::setHighlightColor(const QColor& color) {
    if (m_highlight != color) {
        m_highlight = color;
        m_html = highlight(m_text, m_specialTokens, m_highlight);
        emit previewChanged();
    }
}

void TemplatePreview::setPreview(const PromptPreview& preview) {
    m_text = preview.text;
    m_specialTokens = preview.specialTokens;
    m_html = highlight(m_text, m_specialTokens, m_highlight);
    m_tokenCount = preview.tokenCount;
    m_resolvedName = preview.templateName;
    m_reason = preview.templateReason;
    m_warnings = preview.warnings;
    m_error = preview.error;
    emit previewChanged();
}

QString TemplatePreview::highlight(const QString& text, const QStringList& specialTokens,
                                   const QColor& color) {
    QStringList tokens = specialTokens;
    tokens.removeAll(QString());
    // Longest first, so that a token is never cut by a shorter one it contains.
    std::sort(tokens.begin(), tokens.end(),
              [](const QString& a, const QString& b) { return a.size() > b.size(); });
    QString html = QStringLiteral("<pre style=\"white-space: pre-wrap\">");
    if (tokens.isEmpty()) {
        html += text.toHtmlEscaped();
    } else {
        QStringList alternatives;
        for (const QString& token : tokens) {
            alternatives << QRegularExpression::escape(token);
        }
        const QRegularExpression pattern(alternatives.join(QLatin1Char('|')));
        const QString open =
            QStringLiteral("<span style=\"color:%1; font-weight:bold\">").arg(color.name());
        qsizetype at = 0;
        for (auto it = pattern.globalMatch(text); it.hasNext();) {
            const QRegularExpressionMatch match = it.next();
            html += text.mid(at, match.capturedStart() - at).toHtmlEscaped();
            html += open + match.captured().toHtmlEscaped() + QStringLiteral("</span>");
            at = match.capturedEnd();
        }
        html += text.mid(at).toHtmlEscaped();
    }
    return html + QStringLiteral("</pre>");
}
