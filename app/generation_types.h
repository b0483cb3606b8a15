// The values one generated sequence passes between the engine worker and the GUI thread, the
// same for the chat and for a Compare column: a turn of the conversation it continues, and
// its result (the reply's text and reasoning, the figures a message keeps, and the rest the
// worker measured). Plain values, copied through queued signals.
#pragma once

#include "conversation.h"
#include "doctor_api.h"

#include <QMetaType>
#include <QString>
#include <vector>

struct ChatTurn {
    QString role; // "system", "user", "assistant"
    QString text;
    QString reasoning = {}; // an assistant turn's, passed to the template as reasoning_content
};

// One sequence's result: the chat's reply or one Compare column's. What a message keeps of it
// (MessageStats: tokens, speeds, stop reason, reasoning's figures) is its base.
struct GenerationResult : MessageStats {
    QString text;            // the answer: a reasoning model's reply without its reasoning
    QString reasoning;       // the reply's reasoning ("thinking"), "" when none
    int reusedTokens = 0;    // prompt tokens found in the sequence's own cache
    int sharedTokens = 0;    // copied from another sequence's cache rather than computed
    int prefilledTokens = 0; // computed now
    double prefillMs = 0;
    double decodeMs = 0;
    int kvUsed = 0;       // the chat's: tokens in its cache afterwards (0 for a Compare column)
    int droppedTurns = 0; // oldest messages left out because the context was full
    // Speculative decoding: draft tokens proposed, and of them accepted (0 when off).
    int draftedTokens = 0;
    int acceptedDraftTokens = 0;
    QString device; // where it ran: "CPU" or "CUDA device N"; "server" for a remote one
    // MessageStats::error is set with stopReason "failed" when the sequence did not run (a
    // Compare column whose model does not fit the RAM available; the others still ran), and
    // with "error" when a remote server's reply failed (the text before it kept).
    // The chat's: what the doctor found in this reply (reply_doctor.h), for the notices.
    std::vector<hearth::Diagnosis> diagnoses;
};

// A remote server's model to talk to (RemoteServers::target): where, the key, which model.
// The chat's model when it is remote, or a Compare column's.
struct RemoteTarget {
    QString path; // "remote:<entry id>", what ModelSummary::path echoes
    QString name; // the entry's name
    QString url;
    QString apiKey;
    QString model; // as the server lists it
};

Q_DECLARE_METATYPE(GenerationResult)
