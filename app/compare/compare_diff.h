// Rich-text markup of a rendered prompt's diff against another column's prompt, for the
// compare view's "show prompt": removals struck through on red, insertions on green,
// special tokens in bold, so that a wrong template's stray or missing markers stand out.
#pragma once

#include "hearth/prompt_diff.h"

#include <QString>
#include <QStringList>
#include <span>

QString compareDiffHtml(std::span<const hearth::TextDiffSpan> spans,
                        const QStringList& specialTokens);

// The same markup for a prompt on its own (column 1): special tokens in bold.
QString comparePromptHtml(const QString& text, const QStringList& specialTokens);
