// One sequence's reply on the engine worker's thread, the same for the chat's request and
// for each Compare column: the streamed text split into reasoning and answer as its template
// marks them (hearth::ReasoningSplitter), held until the worker's next flush, and at the end
// the GenerationResult built from the engine's GenerationStats.
#pragma once

#include "generation_types.h"
#include "hearth/prompt.h"
#include "hearth/reasoning.h"
#include "hearth/session.h"

#include <string_view>

class ReplyStream {
public:
    ReplyStream() = default;
    // `prompt`: the rendered prompt, which may open the reply's reasoning (hearth's
    // prompt_opens_reasoning).
    ReplyStream(const hearth::ReasoningFormat& format, std::string_view prompt);

    // One token's event: its text split, a real token (not a stop string's flush) counted.
    void feed(const hearth::TokenEvent& event);
    // At the end: the text the splitter held back (half a marker) joins what is to send.
    void finish();
    // Something to send since the last take: text, or tokens without text (special tokens
    // still move the count and the rate).
    bool hasNews() const { return !m_pending.empty() || m_generated != m_reported; }
    // The text since the last take; marks the count as sent.
    hearth::ReasoningDelta take();
    int generated() const { return m_generated; }
    int reasoningTokens() const { return m_splitter.reasoning_tokens(); }

    // The finished sequence's result: its reply split as it streamed (without a stop string),
    // the figures and the reasoning's. The caller adds what only it knows (the cache's use,
    // the turns it left out, the device).
    GenerationResult result(const hearth::GenerationStats& stats) const;

private:
    hearth::ReasoningFormat m_format;
    bool m_opened = false;
    hearth::ReasoningSplitter m_splitter;
    hearth::ReasoningDelta m_pending; // not yet sent to the GUI thread
    int m_generated = 0;
    int m_reported = 0; // m_generated as last taken
};
