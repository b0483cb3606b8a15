// Compare's two-quantization view, on the engine worker's thread: after the columns ran,
// column 1's reply is teacher-forced through each other column's model (another file with
// the same vocabulary and the same prompt) and scored token by token with the lab's KL
// (hearth::reply_divergence); the first step where the columns' sampled tokens differ is
// found from both replies' tokens.
#pragma once

#include "compare_column_model.h"
#include "compare_types.h"
#include "hearth/model.h"

#include <QString>
#include <QVariantList>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// What one column ran with, as the divergence needs it.
struct DivergenceColumn {
    std::shared_ptr<const hearth::Model> model; // null: the column did not run on a local model
    QString modelKey;                           // compareModelKey's: "" is the chat's model
    std::string promptText;
    std::vector<int32_t> prompt;
    std::vector<int32_t> reply; // the tokens it sampled (the end-of-generation one included)
    bool ran = false;           // it finished without an error
};

// Column 1 against each other column that runs a different model file; a column on the same
// model as column 1 gets no entry. Each entry either holds the figures or says why there are
// none (another vocabulary, another prompt, a column that did not run, an empty reply).
// `cancelled` is polled between columns.
QList<CompareDivergence> compareDivergences(const std::vector<DivergenceColumn>& columns,
                                            const std::function<bool()>& cancelled);

// On the GUI thread. "vs column 1: mean KL 0.012 · p99 KL 0.31 · top-1 agreement 97.5% ·
// first divergence at token 14": a pair's one-line summary (column 1's names the other
// column), or its note.
QString divergenceSummaryText(const CompareDivergence& divergence, bool forColumnOne);

// Hands each pair to its other column, and column 1 the first pair with figures (else the
// first pair, with its note); columns without a pair lose their old one.
void applyDivergences(CompareColumnModel& columns, const QList<CompareDivergence>& divergences);

// The DivergenceTokensRole list: for column 1, one map per token with text, kl, pFirst,
// pOther, topFirst and topOther; for another column its own reply's tokens ({text}); empty
// without a pair.
QVariantList divergenceTokens(const CompareColumn& column, int row);
