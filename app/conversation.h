// A conversation as Hearth keeps it: messages plus what it was generated with (model,
// template, system prompt, sampling), and its JSON form on disk.
#pragma once

#include "token_trace.h"

#include <QDateTime>
#include <QList>
#include <QString>
#include <QVariantMap>
#include <nlohmann/json_fwd.hpp>

struct MessageStats {
    int promptTokens = 0;
    int generatedTokens = 0;
    double prefillTokensPerSecond = 0;
    double decodeTokensPerSecond = 0;
    double ttftMs = 0;
    QString stopReason;
    // A reasoning reply's thinking (hearth::ReplyTiming): its tokens (of generatedTokens), its
    // time from the first token, and the two parts' own speeds. 0 without reasoning.
    int reasoningTokens = 0;
    double reasoningMs = 0;
    double reasoningTokensPerSecond = 0;
    double answerTokensPerSecond = 0;
    // A remote server's reply (issue 20): the endpoint that answered ("http://gpu-box:8000/v1")
    // and the model as the server named it; "" for a local model's. Saved as "endpoint" and
    // "model"; absent in files from before them.
    QString endpoint = {};
    QString model = {};
    // Why the reply failed (refused connection, 401, a stream cut off, ...), with stopReason
    // "error": the text before the failure is kept, marked by this. Saved as "error".
    QString error = {};

    bool isEmpty() const {
        return generatedTokens == 0 && stopReason.isEmpty() && error.isEmpty() &&
               endpoint.isEmpty();
    }
    // "SmolLM2 · http://127.0.0.1:8080/v1", or "" for a local reply.
    QString answeredBy() const;
    // "42 tokens · 88.1 tok/s · first token 120 ms · stopped: end of generation"; with
    // reasoning, the answer's tokens and speed ("answer 40 tokens · 41.0 tok/s · …").
    QString summary() const;
    // "Thought for 3.1 s · 120 tokens · 38.4 tok/s", or "" without reasoning.
    QString thinkingSummary() const;
};

struct Message {
    QString role; // "user", "assistant" ("system" lives in Conversation::systemPrompt)
    QString text;
    MessageStats stats; // assistant replies only
    // The sampler's view of each generated token, for the token inspector. Kept while the
    // app runs, never saved: a reloaded conversation has no traces.
    QList<TokenTrace> tokens;
    // An assistant reply's reasoning ("thinking"), apart from its answer (`text`); saved as
    // "reasoning", absent in files from before it existed.
    QString reasoning = {};
};

struct Conversation {
    // Version of the file format this build writes; files with a larger one are skipped.
    static constexpr int formatVersion = 1;

    QString id; // also the file name: <id>.json
    QString title;
    QDateTime created;
    QDateTime updated;
    QString modelPath;
    QString templateName; // "" = the model's own or the best match
    QString systemPrompt;
    QVariantMap sampling; // SamplingSettings::toVariantMap()
    QList<Message> messages;

    static Conversation create();
    // A title from the first user message, or "New chat".
    QString displayTitle() const;
};

// The JSON form. fromJson fails with a sentence naming the problem (missing key, wrong
// type, a role other than "user" or "assistant", a statistic out of range, newer version) and
// never throws. A "template" that is not a template name (hearth::is_template_name: an old
// file may hold a path there) is not followed: the conversation takes "" (the model's own
// template) and `notice`, when given, says so.
nlohmann::ordered_json conversationToJson(const Conversation& conversation);
bool conversationFromJson(const nlohmann::ordered_json& json, Conversation* conversation,
                          QString* error, QString* notice = nullptr);
