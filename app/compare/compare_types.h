// The values compare mode passes between the GUI thread and the engine worker: a request
// (one conversation and sampling setup per column) and what comes back (each column's
// rendered prompt with its diff against column 1; each column's result is a GenerationResult,
// as the chat's), and the template shoot-out's answer about the model's own template. Plain
// values, copied through queued signals.
#pragma once

#include "generation_types.h"
#include "hearth/sampling.h"

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <optional>

struct CompareColumnRequest {
    QString modelPath; // "" = the chat's model; else a GGUF file, loaded when memory allows
    // A remote server's model ("remote:<id>" modelPath): its own request to the server. With
    // templateName "" the server applies its own template (/v1/chat/completions); with a
    // template, the prompt is rendered here with the chat's model and sent raw to
    // /v1/completions, for the template shoot-out.
    std::optional<RemoteTarget> remote;
    QString templateName; // "" = the model's own or the best match, "raw", a built-in's name
    hearth::SamplingParams sampling;
    int maxTokens = 256;
    QList<ChatTurn> messages; // this column's conversation, ending with the user's turn
};

struct CompareRequest {
    quint64 id = 0;
    QList<CompareColumnRequest> columns;
};

// One column's prompt, as the model will see it.
struct ComparePrompt {
    QString templateName; // resolved
    QString text;
    int tokenCount = 0;
    QStringList warnings;
    QStringList specialTokens; // special-token strings that occur in text
    // Against column 1 (all zero and diffHtml empty for column 1 itself).
    QString diffHtml; // rich text: insertions and removals highlighted, special tokens marked
    int charsInserted = 0;
    int charsRemoved = 0;
    int tokensInserted = 0;
    int tokensRemoved = 0;
};

// One token of column 1's reply against another column's model (hearth::reply_divergence):
// the KL divergence of the two distributions at that step and each model's view of it.
struct CompareTokenDivergence {
    QString text;      // the token as text ("[end]" for the end-of-generation token)
    double kl = 0;     // KL(column 1 || other) in nats
    double pFirst = 0; // column 1's model's probability of the token
    double pOther = 0; // the other model's
    QString topFirst;  // each model's most likely token there, as text
    QString topOther;
};

// Column 1's reply against another column on a different model file (compare_divergence.h):
// either the per-token divergence with its summary, or why there is none.
struct CompareDivergence {
    int column = 0;                       // the other column
    QString note;                         // why no divergence is shown ("" when it is)
    QList<CompareTokenDivergence> tokens; // column 1's reply, token by token
    QStringList otherTokens;              // the other column's own reply, token by token
    int firstDivergence = -1; // the first step where the two sampled tokens differ; -1: none
    double meanKl = 0;
    double p99Kl = 0;
    double top1Agreement = 0; // fraction of steps where both models' most likely token agree
};

// The batch as a whole.
struct CompareSummary {
    int sharedPrefixTokens = 0; // prompt tokens computed once and copied into the others
    int steps = 0;              // decode forward passes
    double prefillMs = 0;
    double decodeMs = 0;
    double tokensPerSecond = 0; // all columns together
    int modelGroups = 1;        // models used; their groups of columns run one after another
    QStringList kvTypes;        // the KV cache types of the columns' sessions: "f16", "q8_0"
    // Column 1 against each other column on another model file with the same prompt.
    QList<CompareDivergence> divergences;
};

// The template shoot-out's answer about the loaded model (EngineWorker::matchOwnTemplate).
struct OwnTemplateMatch {
    bool known = false; // false: no model loaded, or its own template does not render
    QString resolved;   // what "" resolves to: "model" (its own), a built-in's name, "raw"
    QString twin;       // the candidate rendering the conversation exactly as "", or ""
};

Q_DECLARE_METATYPE(CompareRequest)
Q_DECLARE_METATYPE(ComparePrompt)
Q_DECLARE_METATYPE(CompareSummary)
Q_DECLARE_METATYPE(OwnTemplateMatch)
