// Rich-text markup of prompt diffs for the compare view (see compare_diff.h).
#include "compare_diff.h"

namespace {

// Escapes `text` for Qt's rich text and puts the special tokens in bold. Whitespace is kept
// by the surrounding pre-wrap block.
QString markSpecial(const QString& text, const QStringList& specialTokens) {
    QString out = text.toHtmlEscaped();
    for (const QString& token : specialTokens) {
        if (token.isEmpty()) {
            continue;
        }
        const QString escaped = token.toHtmlEscaped();
        out.replace(escaped, QStringLiteral("<b>") + escaped + QStringLiteral("</b>"));
    }
    return out;
}

QString block(const QString& inner) {
    return QStringLiteral("<pre style=\"white-space:pre-wrap\">") + inner +
           QStringLiteral("</pre>");
}

} // namespace

QString compareDiffHtml(std::span<const hearth::TextDiffSpan> spans,
                        const QStringList& specialTokens) {
    QString out;
    for (const hearth::TextDiffSpan& span : spans) {
        const QString text = markSpecial(QString::fromStdString(span.text), specialTokens);
        switch (span.op) {
        case hearth::DiffOp::equal:
            out += text;
            break;
        case hearth::DiffOp::removed:
            out += QStringLiteral("<span style=\"background-color:#f8c9c4\"><s>") + text +
                   QStringLiteral("</s></span>");
            break;
        case hearth::DiffOp::inserted:
            out += QStringLiteral("<span style=\"background-color:#c6efce\">") + text +
                   QStringLiteral("</span>");
            break;
        }
    }
    return block(out);
}

QString comparePromptHtml(const QString& text, const QStringList& specialTokens) {
    return block(markSpecial(text, specialTokens));
}
