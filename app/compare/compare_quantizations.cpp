// CompareController::compareQuantizations: the Quantization lab's way into Compare's
// two-quantization view.
#include "compare_controller.h"

bool CompareController::compareQuantizations(const QString& reference,
                                             const QString& quantization) {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    while (m_columns.rowCount() > kMinColumns) {
        m_columns.removeColumnAt(m_columns.rowCount() - 1);
    }
    clearConversation();
    setSameSeed(true);
    const QString seed = QString::number(m_columns.column(0).sampling.seed);
    const QString paths[] = {reference, quantization};
    for (int i = 0; i < kMinColumns; ++i) {
        if (!setColumnValue(i, QStringLiteral("modelPath"), paths[i]) ||
            !setColumnValue(i, QStringLiteral("templateName"), QString()) ||
            !setColumnValue(i, QStringLiteral("seed"), seed)) {
            return false; // the error says which
        }
    }
    // The columns compare models, not sampling settings: column 2 takes column 1's.
    const CompareColumn& first = m_columns.column(0);
    if (!setColumnValue(1, QStringLiteral("temperature"), double(first.sampling.temperature)) ||
        !setColumnValue(1, QStringLiteral("topP"), double(first.sampling.top_p)) ||
        !setColumnValue(1, QStringLiteral("topK"), first.sampling.top_k) ||
        !setColumnValue(1, QStringLiteral("maxTokens"), first.maxTokens)) {
        return false;
    }
    m_columns.update(1, [&](CompareColumn& c) { c.sampling = first.sampling; });
    setError({});
    return true;
}
