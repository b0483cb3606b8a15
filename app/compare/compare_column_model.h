// The columns of the compare view: per column its template and sampling settings (the
// editable part), the prompt it was last given (with its diff against column 1), its reply
// as it streams, and the figures of its last generation. Lives on the GUI thread; the
// CompareController fills it from the engine worker's signals.
#pragma once

#include "compare_types.h"

#include <QAbstractListModel>
#include <QStringList>
#include <QtQml/qqmlregistration.h>
#include <optional>

struct CompareColumn {
    // Settings.
    QString modelPath;    // "" = the chat's model; else a GGUF file of the column's own
    QString templateName; // "" = the model's own or the best match
    hearth::SamplingParams sampling;
    int maxTokens = 256;
    // The conversation: this column's replies to the shared user messages, in order.
    QStringList replies;
    // Each reply's reasoning ("" when none), as `replies`: given back to the template with
    // its reply, which keeps or drops it as the model expects.
    QStringList reasonings;
    // The last request.
    ComparePrompt prompt;
    bool hasPrompt = false;
    QString reply;          // streaming, then final: the answer
    QString replyReasoning; // its reasoning, streaming then final; "" when none
    int reasoningTokens = 0;
    int generatedTokens = 0;
    double tokensPerSecond = 0; // live while generating, the decode rate afterwards
    double ttftMs = 0;
    int sharedTokens = 0;
    QString stopReason;
    QString error; // why the column did not run (its model does not fit, ...)
    bool generating = false;
    // The divergence view (compare_divergence.h): column 1 holds the pair it is coloured by
    // (the first other column's on another model file), each other column its own pair.
    std::optional<CompareDivergence> divergence;
};

class CompareColumnModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by CompareController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    // A column's "max tokens" runs from 1 to this (docs/LIMITS.md): a reply past it would
    // overflow any context the app offers.
    static constexpr int kMaxTokens = 1 << 16;

    enum Role {
        TemplateNameRole = Qt::UserRole + 1,
        TemperatureRole,
        TopPRole,
        TopKRole,
        SeedRole, // as text: seeds go up to 2^62, past what a QML number holds exactly
        MaxTokensRole,
        ResolvedTemplateRole,
        PromptTextRole,
        PromptHtmlRole, // the diff against column 1, or the prompt itself for column 1
        PromptTokensRole,
        CharsInsertedRole,
        CharsRemovedRole,
        TokensInsertedRole,
        TokensRemovedRole,
        WarningsRole,
        ReplyRole,
        GeneratedTokensRole,
        TokensPerSecondRole,
        TtftMsRole,
        SharedTokensRole,
        StopReasonRole,
        GeneratingRole,
        ModelPathRole,
        ModelNameRole, // the file's name without extension; "" for the chat's model
        ColumnErrorRole,
        ReplyNoteRole,      // what the reply area says while it shows no text (replyNote())
        ReplyReasoningRole, // the reply's reasoning, which the column shows collapsed
        ReasoningTokensRole,
        // The divergence view: the reply token by token (column 1's with each step's KL and
        // both models' probabilities and top-1 tokens), its one-line summary or why there is
        // none, the first step where the sampled tokens differ (-1: none) and, for column 1,
        // the column it is compared with (1-based; 0: none).
        DivergenceTokensRole,
        DivergenceSummaryRole,
        FirstDivergenceRole,
        DivergencePartnerRole,
    };

    explicit CompareColumnModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    // The settings roles only; a value out of range is refused (false) and lastError says why.
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QHash<int, QByteArray> roleNames() const override;

    const QList<CompareColumn>& columns() const { return m_columns; }
    const CompareColumn& column(int row) const { return m_columns.at(row); }
    void insertColumn(int row, const CompareColumn& column);
    void removeColumnAt(int row);
    void resetColumns(const QList<CompareColumn>& columns);
    // Changes column `row` in place and tells the views.
    template <class F>
    void update(int row, F&& change) {
        change(m_columns[row]);
        emit dataChanged(index(row), index(row));
    }
    QString lastError() const { return m_lastError; }
    // What the reply area says while `column` has no text to show: "…" while generating,
    // "The reply appears here." before its first request, else why the reply is empty (the
    // model ended it at once, a stop string, cancelled, max tokens, a full context, or the
    // column did not run). "" when there is text.
    static QString replyNote(const CompareColumn& column);

signals:
    void countChanged();

private:
    QList<CompareColumn> m_columns;
    QString m_lastError;
};
