// Rich-text markup of prompt diffs for the compare view (see compare_diff.h).
#include "compare_diff.h"

namespace {

QString block(const QString& inner) {
    return QStringLiteral("<pre style=\"white-space:pre-wrap\">") + inner +
           QStringLiteral("</pre>");
}

// A special token: bold, in its own colour; Qt's rich text has no borders on inline text,
// so the colour and weight carry the distinction (the diff's backgrounds still apply).
QString special(const QString& escaped) {
    return QStringLiteral("<span style=\"color:%1; font-weight:bold\">").arg(kDiffSpecialColor) +
           escaped + QStringLiteral("</span>");
}

} // namespace

std::vector<std::string> toStdStrings(const QStringList& strings) {
    std::vector<std::string> out;
    out.reserve(size_t(strings.size()));
    for (const QString& s : strings) {
        if (!s.isEmpty()) {
            out.push_back(s.toStdString());
        }
    }
    return out;
}

QString compareDiffHtml(std::span<const hearth::TextDiffSpan> spans) {
    QString out;
    for (const hearth::TextDiffSpan& span : spans) {
        QString text = QString::fromStdString(span.text).toHtmlEscaped();
        if (span.special) {
            text = special(text);
        }
        switch (span.op) {
        case hearth::DiffOp::equal:
            out += text;
            break;
        case hearth::DiffOp::removed:
            out += QStringLiteral("<span style=\"background-color:%1; color:%2\"><s>")
                       .arg(kDiffRemovedBackground, kDiffChangedText) +
                   text + QStringLiteral("</s></span>");
            break;
        case hearth::DiffOp::inserted:
            out += QStringLiteral("<span style=\"background-color:%1; color:%2\">")
                       .arg(kDiffInsertedBackground, kDiffChangedText) +
                   text + QStringLiteral("</span>");
            break;
        }
    }
    return block(out);
}

QString comparePromptHtml(const QString& text, const QStringList& specialTokens) {
    const std::string utf8 = text.toStdString();
    const std::vector<std::string> special = toStdStrings(specialTokens);
    // The prompt against itself: all equal, split at the special tokens.
    return compareDiffHtml(hearth::diff_text(utf8, utf8, special));
}
