// A client of an OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama, another
// Hearth): its model list, a connection test (probe), chat completions streamed or whole, and
// raw text completions (/v1/completions: the prompt as given, the text exactly as returned).
// Issue 20. Qt-free: the app and hearth-cli share it.
//
// Threads: a RemoteClient is immutable once created; its methods are const and may run at the
// same time on several threads (each request has its own connection). Every method blocks its
// calling thread until the reply is complete or failed; the app calls them from a worker
// thread, never the GUI thread. Stream handlers are called on the calling thread, in order.
//
// Cancellation: pass a CancelToken and call cancel() from any thread; the request returns at
// once with RemoteErrorKind::cancelled (its socket is shut, so even a server that has gone
// quiet cannot hold it). A handler returning false cancels the same way. A cancelled stream's
// connection is closed, which is how OpenAI-compatible servers learn to stop generating (they
// free the slot).
//
// Errors: every failure is a RemoteError (remote_error.h) with a message for the user; a
// request that fails after text arrived returns that text in RemoteFailure::partial, so a chat
// loses nothing and can show it beside the error. Nothing throws; hostile replies are bounded
// (docs/LIMITS.md, "Remote servers").
#pragma once

#include "hearth/error.h"
#include "hearth/remote/endpoint.h"
#include "hearth/remote/remote_error.h"
#include "hearth/remote/server_family.h"
#include "hearth/sampling.h"
#include "hearth/server/openai_response.h"
#include "hearth/server/request_export.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::remote {

// docs/LIMITS.md, "Remote servers".
inline constexpr size_t kMaxResponseBytes = size_t{16} << 20; // a body not streamed
inline constexpr size_t kMaxReplyBytes = size_t{64} << 20;    // a streamed reply's text, summed
inline constexpr size_t kMaxListedModels = 10000;             // entries read from /v1/models

// One entry of GET /v1/models.
struct RemoteModel {
    std::string id;
    std::string owned_by; // "vllm", "llamacpp", "library" (Ollama), "hearth", ...
    int64_t created = 0;
    // The model's context in tokens when the listing says it (vLLM's max_model_len,
    // llama.cpp's meta.n_ctx_train, Hearth's meta.context_length); 0 when not.
    uint32_t context_length = 0;
};

// What a request sends besides its prompt. Knobs the server's family does not honour
// (server_family.h) are left out of the body rather than sent to be ignored or refused.
struct RemoteGeneration {
    SamplingParams sampling;
    bool send_seed = true; // false: the server draws its own
    std::optional<int32_t> max_tokens;
    std::vector<std::string> stop;
    bool stream = true;
};

struct RemoteChatRequest {
    std::string model; // as the server lists it (RemoteModel::id)
    std::string system_prompt;
    // user/assistant turns; an assistant's reasoning goes back as reasoning_content
    std::vector<server::ExportMessage> messages;
    // chat_template_kwargs (llama.cpp, vLLM, Hearth: e.g. {"enable_thinking": false}); null:
    // none sent
    nlohmann::ordered_json template_variables;
    RemoteGeneration generation;
};

struct RemoteCompletionRequest {
    std::string model;
    std::string prompt; // sent exactly as given: the caller has applied any template
    RemoteGeneration generation;
};

// One streamed piece of a reply: new answer text and/or new reasoning (reasoning_content, or
// `reasoning` as newer vLLM names it). Views into the client's buffer: copy to keep.
struct RemoteDelta {
    std::string_view content;
    std::string_view reasoning;
};
// Returns false to stop the request (as CancelToken::cancel). Called on the calling thread.
using DeltaHandler = std::function<bool(const RemoteDelta& delta)>;

// Measured at the client, from the moment the request is sent.
struct RemoteTimings {
    double time_to_first_token_s = 0; // until the first text or reasoning arrived; 0 if none
    double total_s = 0;               // until the reply was complete (or failed)
    // Completion tokens after the first over the time from the first to the last: the decode
    // speed as the user sees it (network included). 0 when fewer than two tokens. A reply not
    // streamed arrives in one piece: its tokens over the whole request time.
    double tokens_per_second = 0;
    int32_t text_events = 0; // stream events that carried text or reasoning
};

struct RemoteReply {
    std::string content;
    std::string reasoning;
    std::string finish_reason; // "stop", "length", "tool_calls", ...; "" when none came
    // The server's counts; absent when it sent none (many stream without usage unless asked,
    // and the client asks with stream_options.include_usage).
    std::optional<server::Usage> usage;
    // Completion tokens: the server's count when it gave one, else one per text event (what
    // llama.cpp, vLLM and Ollama send); `tokens_counted_by_server` says which.
    int32_t completion_tokens = 0;
    bool tokens_counted_by_server = false;
    std::string id;
    std::string model;              // the model that answered, as the server names it
    std::string system_fingerprint; // "" when the server sent none
    RemoteTimings timings;
};

struct RemoteFailure {
    RemoteError error;
    RemoteReply partial; // what arrived before the failure (may be empty)
};

using RemoteResult = std::expected<RemoteReply, RemoteFailure>;

// What a connection test found. Every field the server did not report stays empty / 0.
struct ServerProbe {
    ServerFamily family = ServerFamily::unknown;
    std::string version;     // "0.6.3" (vLLM /version), "b4567" (llama.cpp build), ...
    std::string description; // "vLLM 0.6.3": the family and version for one line
    std::vector<RemoteModel> models;
    bool has_completions = false;    // POST /v1/completions exists (raw prompts, template tests)
    uint32_t context_length = 0;     // the serving context (llama.cpp /props n_ctx, vLLM
                                     // max_model_len, TGI /info max_total_tokens)
    uint64_t model_memory_bytes = 0; // the model's memory on the server (Ollama /api/ps size)
    uint64_t gpu_memory_bytes = 0;   // of which on GPUs (Ollama /api/ps size_vram)
    KnobSupport knobs;
    // One line per fact and where it came from ("context 8192 tokens (/props n_ctx)"), for
    // the connection test's report.
    std::vector<std::string> facts;
};

class RemoteClient {
public:
    // Checks the URL (parse_endpoint_url) and that https is available when asked. `family`
    // decides the knobs sent (server_family.h); probe() tells it, and unknown sends only
    // OpenAI's own fields.
    static std::expected<RemoteClient, RemoteError>
    create(EndpointConfig config, ServerFamily family = ServerFamily::unknown);

    const EndpointUrl& url() const { return url_; }
    ServerFamily family() const { return family_; }
    void set_family(ServerFamily family) { family_ = family; }

    // GET /v1/models.
    std::expected<std::vector<RemoteModel>, RemoteError>
    list_models(const CancelToken& cancel = {}) const;

    // The connection test: /v1/models and the server's own endpoints (/health, /version,
    // /props, /api/version, /info, /api/ps), the family, the context, and whether
    // /v1/completions exists (asked with an empty body, so nothing is generated). Fails only
    // when /v1/models fails (wrong URL, refused, key); the rest is best effort.
    std::expected<ServerProbe, RemoteError> probe(const CancelToken& cancel = {}) const;

    // POST /v1/chat/completions. Streamed (generation.stream): `on_delta` gets each piece as it
    // arrives; whole: `on_delta` gets the reply once. `on_delta` may be empty.
    RemoteResult chat(const RemoteChatRequest& request, const DeltaHandler& on_delta = {},
                      const CancelToken& cancel = {}) const;

    // POST /v1/completions with the prompt as given; content is the text exactly as the
    // server returned it (no trimming, no template).
    RemoteResult complete(const RemoteCompletionRequest& request, const DeltaHandler& on_delta = {},
                          const CancelToken& cancel = {}) const;

    // The JSON bodies the two calls send (for tests, and the app's "show request").
    nlohmann::ordered_json chat_body(const RemoteChatRequest& request) const;
    nlohmann::ordered_json completion_body(const RemoteCompletionRequest& request) const;

private:
    RemoteClient(EndpointConfig config, EndpointUrl url, ServerFamily family);
    RemoteResult generate(const char* path, nlohmann::ordered_json body, bool chat,
                          std::string_view model, const DeltaHandler& on_delta,
                          const CancelToken& cancel) const;

    EndpointConfig config_;
    EndpointUrl url_;
    ServerFamily family_ = ServerFamily::unknown;
};

} // namespace hearth::remote
