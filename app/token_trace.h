// What the sampler saw for one generated token, as the token inspector shows it: the
// token's id and text, and the top candidates with their probabilities after each stage of
// the sampling chain (hearth::SamplingTrace with the tokens' text filled in). Plain values:
// the worker builds them on its thread and they cross to the GUI thread by signal.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QVariantMap>

namespace hearth {
struct SamplingTrace;
class Tokenizer;
} // namespace hearth

struct TraceCandidate {
    int token = -1;
    QString text;
    float probability = 0;
};

struct TraceStage {
    QString name;              // "logits", "penalties", "top-k", "top-p", "min-p", "temperature"
    int remaining = 0;         // candidates left after the stage
    QList<TraceCandidate> top; // most probable first
};

struct TokenTrace {
    int token = -1;
    QString text; // the token's piece, as the tokenizer decodes it alone
    QList<TraceStage> stages;
    // Speculative decoding: the token the draft proposed here (-1: none) and its text, and
    // whether the model accepted it (then it is `token`).
    int drafted = -1;
    QString draftedText;
    bool draftAccepted = false;

    static TokenTrace fromEngine(int token, const hearth::SamplingTrace& trace,
                                 const hearth::Tokenizer& tokenizer);
    // {token, text, display, stages: [{name, remaining, candidates: [{token, text, display,
    // probability, chosen}]}], drafted, draftedDisplay, draftAccepted} for QML.
    QVariantMap toVariant() const;
    // The piece with its invisible characters made visible: "␣" for a space, "↵" for a
    // newline, "⇥" for a tab; "∅" for an empty piece.
    static QString visible(const QString& text);
};

Q_DECLARE_METATYPE(TokenTrace)
Q_DECLARE_METATYPE(QList<TokenTrace>)
