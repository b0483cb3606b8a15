// Rich-text markup of a rendered prompt's diff against another column's prompt, for the
// compare view's "show prompt": removals struck through on red, insertions on green, and
// special tokens (kept whole by the diff) in bold purple on top of that, so that a wrong
// template's stray or missing markers stand out from ordinary inserted or removed text.
#pragma once

#include "hearth/prompt_diff.h"

#include <QString>
#include <QStringList>
#include <span>
#include <string>
#include <vector>

// Colours of the markup, exposed for tests and the legend.
inline constexpr const char* kDiffInsertedBackground = "#c6efce";
inline constexpr const char* kDiffRemovedBackground = "#f8c9c4";
// Changed text is dark on its light background in both themes.
inline constexpr const char* kDiffChangedText = "#1b1b1b";
// Readable on the light code background, the dark one and the diff's backgrounds.
inline constexpr const char* kDiffSpecialColor = "#8e44ad";

// `spans` from hearth::diff_text with the special-token list, so that special tokens come
// as spans of their own.
QString compareDiffHtml(std::span<const hearth::TextDiffSpan> spans);

// The same markup for a prompt on its own (column 1): special tokens marked.
QString comparePromptHtml(const QString& text, const QStringList& specialTokens);

// The special-token strings in the engine's form, for hearth::diff_text.
std::vector<std::string> toStdStrings(const QStringList& strings);
