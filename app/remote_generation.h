// One request to a remote server's model, streamed, and its end as the app's GenerationResult:
// shared by the chat's remote model (engine_worker_remote.cpp) and Compare's remote columns
// (compare/engine_worker_compare_remote.cpp), so that both read the server alike: text and
// reasoning as they arrive, the server's token counts, the client's timings, and a failure
// kept with the text before it.
#pragma once

#include "generation_types.h"
#include "hearth/remote/openai_client.h"

#include <QString>
#include <functional>
#include <string>

// New text since the last call: reasoning, answer, stream events so far (one a token),
// events that carried reasoning, milliseconds since the request was sent.
using RemoteFlush = std::function<void(const QString& reasoning, const QString& answer, int events,
                                       int reasoningEvents, double ms)>;

struct RemoteRun {
    const hearth::remote::RemoteClient* client = nullptr;
    QString model; // as the server lists it
    // Exactly one of: a chat (the server applies its template) or a raw prompt sent to
    // /v1/completions (rendered here).
    const hearth::remote::RemoteChatRequest* chat = nullptr;
    const hearth::remote::RemoteCompletionRequest* completion = nullptr;
    hearth::remote::CancelToken cancel;
    int flushIntervalMs = 16;
};

// Runs `run` on the calling thread, calling `flush` at most every flushIntervalMs and once
// at the end. The result's stopReason: the local engine's words for the server's finish
// reason, "cancelled", or "error" with `error` set (and what arrived before it kept).
GenerationResult runRemote(const RemoteRun& run, const RemoteFlush& flush);

// The chat request of `turns` (a system turn becomes the system prompt).
hearth::remote::RemoteChatRequest remoteChatRequest(const QString& model,
                                                    const QList<ChatTurn>& turns,
                                                    const hearth::SamplingParams& sampling,
                                                    int maxTokens);
