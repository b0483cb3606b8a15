// The compare view's column list model (see compare_column_model.h).
#include "compare_column_model.h"

#include "compare_divergence.h"
#include "hearth/prompt.h"
#include "hearth/session.h"

#include <QFileInfo>
#include <QUrl>

namespace {

// A float setting as the double a person typed (0.3, not 0.30000001192).
double shortest(float value) {
    return QString::number(value).toDouble();
}

} // namespace

CompareColumnModel::CompareColumnModel(QObject* parent) : QAbstractListModel(parent) {}

int CompareColumnModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant CompareColumnModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const CompareColumn& c = m_columns.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TemplateNameRole:
        return c.templateName;
    case TemperatureRole:
        return shortest(c.sampling.temperature);
    case TopPRole:
        return shortest(c.sampling.top_p);
    case TopKRole:
        return c.sampling.top_k;
    case SeedRole:
        return QString::number(c.sampling.seed);
    case MaxTokensRole:
        return c.maxTokens;
    case ResolvedTemplateRole:
        return c.prompt.templateName;
    case PromptTextRole:
        return c.prompt.text;
    case PromptHtmlRole:
        return c.prompt.diffHtml;
    case PromptTokensRole:
        return c.prompt.tokenCount;
    case CharsInsertedRole:
        return c.prompt.charsInserted;
    case CharsRemovedRole:
        return c.prompt.charsRemoved;
    case TokensInsertedRole:
        return c.prompt.tokensInserted;
    case TokensRemovedRole:
        return c.prompt.tokensRemoved;
    case WarningsRole:
        return c.prompt.warnings;
    case ReplyRole:
        return c.reply;
    case ReplyReasoningRole:
        return c.replyReasoning;
    case ReasoningTokensRole:
        return c.reasoningTokens;
    case DivergenceTokensRole:
        return divergenceTokens(c, index.row());
    case DivergenceSummaryRole:
        return c.divergence ? divergenceSummaryText(*c.divergence, index.row() == 0) : QString();
    case FirstDivergenceRole:
        return c.divergence ? c.divergence->firstDivergence : -1;
    case DivergencePartnerRole:
        return index.row() == 0 && c.divergence ? c.divergence->column + 1 : 0;
    case GeneratedTokensRole:
        return c.generatedTokens;
    case TokensPerSecondRole:
        return c.tokensPerSecond;
    case TtftMsRole:
        return c.ttftMs;
    case SharedTokensRole:
        return c.sharedTokens;
    case StopReasonRole:
        return c.stopReason;
    case GeneratingRole:
        return c.generating;
    case ModelPathRole:
        return c.modelPath;
    case ModelNameRole:
        return c.modelPath.isEmpty() || c.modelPath.startsWith(QLatin1String("remote:"))
                   ? QString() // the controller's modelLabel names a remote server
                   : QFileInfo(c.modelPath).completeBaseName();
    case ColumnErrorRole:
        return c.error;
    case ReplyNoteRole:
        return replyNote(c);
    default:
        return {};
    }
}

bool CompareColumnModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        m_lastError = QStringLiteral("no such column");
        return false;
    }
    CompareColumn changed = m_columns.at(index.row());
    bool ok = true;
    switch (role) {
    case TemplateNameRole:
        // A name, never a path (hearth::is_template_name): the worker reads no file for it.
        changed.templateName = value.toString().trimmed();
        if (!hearth::is_template_name(changed.templateName.toStdString())) {
            m_lastError =
                QStringLiteral("'%1' is not a chat template name").arg(changed.templateName);
            return false;
        }
        break;
    case ModelPathRole: {
        // A path or a file:// URL (what a file dialog gives); "" for the chat's model.
        QString path = value.toString().trimmed();
        if (path.startsWith(QLatin1String("file:"))) {
            path = QUrl(path).toLocalFile();
        }
        // "remote:<id>" is a remote server's entry (RemoteServers), checked when sent.
        if (!path.isEmpty() && !path.startsWith(QLatin1String("remote:")) &&
            !QFileInfo(path).isFile()) {
            m_lastError = QStringLiteral("no model file at %1").arg(path);
            return false;
        }
        changed.modelPath = path;
        break;
    }
    case TemperatureRole:
        changed.sampling.temperature = value.toFloat(&ok);
        break;
    case TopPRole:
        changed.sampling.top_p = value.toFloat(&ok);
        break;
    case TopKRole:
        changed.sampling.top_k = value.toInt(&ok);
        break;
    case SeedRole:
        changed.sampling.seed = value.toString().trimmed().toULongLong(&ok);
        break;
    case MaxTokensRole:
        changed.maxTokens = value.toInt(&ok);
        if (ok && (changed.maxTokens < 1 || changed.maxTokens > kMaxTokens)) {
            m_lastError = QStringLiteral("max tokens must be from 1 to %1, got %2")
                              .arg(kMaxTokens)
                              .arg(changed.maxTokens);
            return false;
        }
        break;
    default:
        m_lastError = QStringLiteral("that column field cannot be edited");
        return false;
    }
    if (!ok) {
        m_lastError = QStringLiteral("'%1' is not a valid %2")
                          .arg(value.toString(), QString::fromUtf8(roleNames().value(role)));
        return false;
    }
    if (auto valid = changed.sampling.validate(); !valid) {
        m_lastError = QString::fromStdString(valid.error().message);
        return false;
    }
    m_lastError.clear();
    m_columns[index.row()] = changed;
    emit dataChanged(index, index, {role});
    return true;
}

QString CompareColumnModel::replyNote(const CompareColumn& c) {
    if (c.generating) {
        return QStringLiteral("…");
    }
    if (!c.reply.trimmed().isEmpty()) {
        return {};
    }
    if (!c.error.isEmpty()) {
        return QStringLiteral("No reply: this column did not run (the reason is above).");
    }
    if (c.stopReason.isEmpty()) {
        return QStringLiteral("The reply appears here.");
    }
    const QString tokens = c.generatedTokens == 1
                               ? QStringLiteral("1 token")
                               : QStringLiteral("%1 tokens").arg(c.generatedTokens);
    auto is = [&c](hearth::StopReason reason) {
        return c.stopReason == QLatin1String(hearth::stop_reason_name(reason));
    };
    if (is(hearth::StopReason::end_of_generation)) {
        return QStringLiteral("The model ended its reply at once (end of generation after %1, "
                              "none of them text). Another template, or a higher temperature, "
                              "may get an answer.")
            .arg(tokens);
    }
    if (is(hearth::StopReason::stop_string)) {
        return QStringLiteral("The reply stopped at a stop string before any text (after %1).")
            .arg(tokens);
    }
    if (is(hearth::StopReason::cancelled)) {
        return QStringLiteral("Stopped before any text arrived (after %1).").arg(tokens);
    }
    if (is(hearth::StopReason::max_tokens) && !c.replyReasoning.isEmpty()) {
        return QStringLiteral("Max tokens reached after %1 while the model was still thinking: "
                              "raise max tokens, or turn thinking off.")
            .arg(tokens);
    }
    if (is(hearth::StopReason::max_tokens)) {
        return QStringLiteral("Max tokens reached after %1, none of them text: raise max tokens, "
                              "or try another template.")
            .arg(tokens);
    }
    if (is(hearth::StopReason::context_full)) {
        return QStringLiteral("The context is full: there is no room for a reply. Clear the "
                              "conversation, or load the model with a longer context.");
    }
    return QStringLiteral("The reply is empty (stopped: %1).").arg(c.stopReason);
}

Qt::ItemFlags CompareColumnModel::flags(const QModelIndex& index) const {
    return QAbstractListModel::flags(index) |
           (index.isValid() ? Qt::ItemIsEditable : Qt::NoItemFlags);
}

QHash<int, QByteArray> CompareColumnModel::roleNames() const {
    return {{TemplateNameRole, "templateName"},
            {TemperatureRole, "temperature"},
            {TopPRole, "topP"},
            {TopKRole, "topK"},
            {SeedRole, "seed"},
            {MaxTokensRole, "maxTokens"},
            {ResolvedTemplateRole, "resolvedTemplate"},
            {PromptTextRole, "promptText"},
            {PromptHtmlRole, "promptHtml"},
            {PromptTokensRole, "promptTokens"},
            {CharsInsertedRole, "charsInserted"},
            {CharsRemovedRole, "charsRemoved"},
            {TokensInsertedRole, "tokensInserted"},
            {TokensRemovedRole, "tokensRemoved"},
            {WarningsRole, "warnings"},
            {ReplyRole, "reply"},
            {GeneratedTokensRole, "generatedTokens"},
            {TokensPerSecondRole, "tokensPerSecond"},
            {TtftMsRole, "ttftMs"},
            {SharedTokensRole, "sharedTokens"},
            {StopReasonRole, "stopReason"},
            {GeneratingRole, "generating"},
            {ModelPathRole, "modelPath"},
            {ModelNameRole, "modelName"},
            {ColumnErrorRole, "columnError"},
            {ReplyNoteRole, "replyNote"},
            {ReplyReasoningRole, "replyReasoning"},
            {ReasoningTokensRole, "reasoningTokens"},
            {DivergenceTokensRole, "divergenceTokens"},
            {DivergenceSummaryRole, "divergenceSummary"},
            {FirstDivergenceRole, "firstDivergence"},
            {DivergencePartnerRole, "divergencePartner"}};
}

void CompareColumnModel::insertColumn(int row, const CompareColumn& column) {
    row = std::clamp(row, 0, int(m_columns.size()));
    beginInsertRows({}, row, row);
    m_columns.insert(row, column);
    endInsertRows();
    emit countChanged();
}

void CompareColumnModel::removeColumnAt(int row) {
    if (row < 0 || row >= m_columns.size()) {
        return;
    }
    beginRemoveRows({}, row, row);
    m_columns.removeAt(row);
    endRemoveRows();
    emit countChanged();
}

void CompareColumnModel::resetColumns(const QList<CompareColumn>& columns) {
    // Rows removed and inserted rather than a model reset: Qt 6.4's layouts keep pointers
    // to a Repeater's items across a reset and crash on the next polish.
    if (!m_columns.isEmpty()) {
        beginRemoveRows({}, 0, int(m_columns.size()) - 1);
        m_columns.clear();
        endRemoveRows();
    }
    if (!columns.isEmpty()) {
        beginInsertRows({}, 0, int(columns.size()) - 1);
        m_columns = columns;
        endInsertRows();
    }
    emit countChanged();
}
