// The app's local server (issue 19) as values passed between the GUI thread and the engine
// worker: what the user asks for, and a reading of the running server and the scheduler the
// chat shares with it.
#pragma once

#include <QMetaType>
#include <QString>
#include <cstdint>

struct LocalServerOptions {
    int port = 8080;     // 1..65535 (the panel offers no 0: the URL must be known before it starts)
    int serverSlots = 1; // the server's, beside the chat's own
    QString apiKey;      // "": no key asked for
};

// Taken a few times a second by the panel (EngineWorker::serverSnapshot, any thread).
struct LocalServerSnapshot {
    bool serving = false;
    quint64 requestsInFlight = 0;
    quint64 requestsServed = 0;
    quint64 requestsRefused = 0;
    quint64 serverTokens = 0; // generated for the server's requests so far
    quint64 modelTokens = 0;  // generated on the model's scheduler so far, the chat's included
    int slotCount = 0;        // the scheduler's: the chat's reserved one and the server's
    int reservedSlots = 0;
    int slotsBusy = 0;
    int serverSlotsBusy = 0; // of slotsBusy, the server's
    int queueLength = 0;
};

// "4 slots × 96.0 MiB = 384.0 MiB": the memory `slots` more slots take, each `slotBytes` (the
// memory plan's KV cache and recurrent state of one sequence at the session's context).
QString slotMemoryArithmetic(int slotCount, qint64 slotBytes);

Q_DECLARE_METATYPE(LocalServerOptions)
Q_DECLARE_METATYPE(LocalServerSnapshot)
