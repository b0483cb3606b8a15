// The OpenAI client: the request bodies (from request_export's per-server bodies, less the
// knobs the family does not honour), the model list, and chat and text completions streamed
// or whole.
#include "hearth/remote/openai_client.h"

#include "hearth/json_input.h"
#include "http_transport.h"
#include "reply_reader.h"
#include "server_text.h"

#include <array>
#include <fmt/format.h>

namespace hearth::remote {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

server::RequestTarget export_target(ServerFamily family) {
    switch (family) {
    case ServerFamily::llama_server:
        return server::RequestTarget::llama_server;
    case ServerFamily::vllm:
        return server::RequestTarget::vllm;
    default:
        // Hearth's body has OpenAI's names plus top_k, min_p and repeat_penalty, which the
        // knob table removes for the families that do not take them.
        return server::RequestTarget::hearth;
    }
}

void drop_ignored_knobs(Json& body, const KnobSupport& knobs) {
    struct Field {
        bool honoured;
        std::array<const char*, 3> names; // the family's names for it; nullptr: none more
    };
    const Field fields[] = {
        {knobs.temperature, {"temperature"}},
        {knobs.top_p, {"top_p"}},
        {knobs.top_k, {"top_k"}},
        {knobs.min_p, {"min_p"}},
        {knobs.repeat_penalty, {"repeat_penalty", "repetition_penalty", "repeat_last_n"}},
        {knobs.presence_penalty, {"presence_penalty"}},
        {knobs.frequency_penalty, {"frequency_penalty"}},
        {knobs.seed, {"seed"}},
        {knobs.stop, {"stop"}},
        {knobs.max_tokens, {"max_tokens"}},
    };
    for (const Field& field : fields) {
        for (const char* name : field.names) {
            if (!field.honoured && name) {
                body.erase(name);
            }
        }
    }
}

// The body both endpoints share: the model, the sampling the family honours, streaming.
Json generation_body(ServerFamily family, const std::string& model,
                     const std::string& system_prompt,
                     const std::vector<server::ExportMessage>& messages,
                     const RemoteGeneration& generation) {
    server::RequestExportInput input;
    input.model = model;
    input.system_prompt = system_prompt;
    input.messages = messages;
    input.sampling = generation.sampling;
    input.fixed_seed = generation.send_seed;
    input.max_tokens = generation.max_tokens;
    input.stop = generation.stop;
    Json body = server::export_request(input, export_target(family)).body;
    drop_ignored_knobs(body, knob_support(family));
    if (model.empty()) {
        body.erase("model"); // the server's only model (llama.cpp, Hearth)
    }
    body["stream"] = generation.stream;
    if (generation.stream) {
        // usage in the last chunk: OpenAI, vLLM, llama.cpp, TGI, Ollama and Hearth take it
        body["stream_options"] = Json{{"include_usage", true}};
    }
    return body;
}

RemoteFailure failure(RemoteError error, RemoteReply partial) {
    return RemoteFailure{std::move(error), std::move(partial)};
}

} // namespace

RemoteClient::RemoteClient(EndpointConfig config, EndpointUrl url, ServerFamily family)
    : config_(std::move(config)), url_(std::move(url)), family_(family) {}

std::expected<RemoteClient, RemoteError> RemoteClient::create(EndpointConfig config,
                                                              ServerFamily family) {
    auto url = parse_endpoint_url(config.url);
    if (!url) {
        return std::unexpected(RemoteError{url.error(), RemoteErrorKind::invalid_url, 0});
    }
    if (url->https && !https_supported()) {
        return std::unexpected(RemoteError{
            Error{ErrorCode::unsupported, "This build of Hearth has no TLS support, so it cannot "
                                          "use https:// servers."},
            RemoteErrorKind::https_unavailable, 0});
    }
    return RemoteClient(std::move(config), std::move(*url), family);
}

Json RemoteClient::chat_body(const RemoteChatRequest& request) const {
    Json body = generation_body(family_, request.model, request.system_prompt, request.messages,
                                request.generation);
    Json& messages = body["messages"];
    for (Json& message : messages) {
        auto it = message.find("reasoning_content");
        if (it == message.end()) {
            continue;
        }
        if (family_ == ServerFamily::ollama) {
            message["reasoning"] = std::move(*it); // openai/openai.go's Message.Reasoning
            message.erase("reasoning_content");
        } else if (family_ == ServerFamily::tgi || family_ == ServerFamily::unknown) {
            message.erase("reasoning_content");
        }
    }
    const bool takes_kwargs = family_ == ServerFamily::hearth ||
                              family_ == ServerFamily::llama_server ||
                              family_ == ServerFamily::vllm;
    if (takes_kwargs && request.template_variables.is_object() &&
        !request.template_variables.empty()) {
        body["chat_template_kwargs"] = request.template_variables;
    }
    return body;
}

Json RemoteClient::completion_body(const RemoteCompletionRequest& request) const {
    Json body = generation_body(family_, request.model, {}, {}, request.generation);
    body.erase("messages");
    body["prompt"] = request.prompt;
    return body;
}

std::expected<std::vector<RemoteModel>, RemoteError>
RemoteClient::list_models(const CancelToken& cancel) const {
    detail::HttpRequest request{"GET", url_.api_prefix + "/models", {}, false, false};
    auto response = detail::http_exchange(config_, url_, request, {}, cancel, kMaxResponseBytes);
    if (!response) {
        return std::unexpected(response.error());
    }
    if (response->status < 200 || response->status >= 300) {
        return std::unexpected(detail::status_error(url_, *response, {}));
    }
    auto parsed =
        parse_json_input(response->body, "the model list", JsonLimits{kMaxResponseBytes, 64});
    const auto bad = [&](std::string why) {
        return std::unexpected(RemoteError{
            Error{ErrorCode::bad_format,
                  fmt::format("{}'s model list (GET {}/models) is not in the OpenAI format: {}.",
                              url_.display(), url_.api_prefix, why)},
            RemoteErrorKind::malformed_response, response->status});
    };
    if (!parsed) {
        return bad(parsed.error().message);
    }
    if (!parsed->is_object()) {
        return bad("not a JSON object");
    }
    std::vector<RemoteModel> models;
    const auto data = parsed->find("data");
    if (data == parsed->end() || data->is_null()) {
        return models; // Ollama lists none as "data": null
    }
    if (!data->is_array()) {
        return bad("\"data\" is not an array");
    }
    for (const Json& entry : *data) {
        if (models.size() == kMaxListedModels) {
            break;
        }
        if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()) {
            return bad("an entry has no string \"id\"");
        }
        RemoteModel model;
        model.id = entry["id"].get<std::string>();
        if (auto it = entry.find("owned_by"); it != entry.end() && it->is_string()) {
            model.owned_by = detail::quote_server_text(it->get<std::string>(), 64);
        }
        if (auto it = entry.find("created"); it != entry.end() && it->is_number_integer()) {
            model.created = it->get<int64_t>();
        }
        const auto context = [](const Json& object, const char* key) -> uint32_t {
            const auto it = object.find(key);
            if (it == object.end() || !it->is_number_integer()) {
                return 0;
            }
            const int64_t value = it->get<int64_t>();
            return value > 0 && value <= INT32_MAX ? static_cast<uint32_t>(value) : 0;
        };
        model.context_length = context(entry, "max_model_len"); // vLLM
        if (auto meta = entry.find("meta");
            model.context_length == 0 && meta != entry.end() && meta->is_object()) {
            model.context_length = context(*meta, "n_ctx_train"); // llama.cpp, Hearth
        }
        models.push_back(std::move(model));
    }
    return models;
}

RemoteResult RemoteClient::generate(const char* path, Json body, bool chat, std::string_view model,
                                    const DeltaHandler& on_delta, const CancelToken& cancel) const {
    const bool stream = body.value("stream", false);
    detail::HttpRequest request{"POST", url_.api_prefix + path,
                                body.dump(-1, ' ', false, Json::error_handler_t::replace), true,
                                stream};
    const Clock::time_point sent = Clock::now();
    detail::StreamReader streamed(chat, on_delta, sent, url_.display());
    std::string plain; // a 2xx body that is not an event stream (a server ignoring "stream")
    detail::BodyHandler on_body;
    if (stream) {
        on_body = [&](std::string_view piece, const detail::HttpResponse& head) {
            if (head.content_type.find("text/event-stream") != std::string::npos) {
                return streamed.feed(piece);
            }
            if (plain.size() + piece.size() > kMaxResponseBytes) {
                return false;
            }
            plain.append(piece);
            return true;
        };
    }
    auto response =
        detail::http_exchange(config_, url_, request, on_body, cancel, kMaxResponseBytes);
    if (!response) {
        return streamed.fail_with(response.error());
    }
    if (response->status < 200 || response->status >= 300) {
        return std::unexpected(failure(detail::status_error(url_, *response, model), {}));
    }
    if (!stream || !plain.empty()) {
        detail::ReplyReader whole(chat, on_delta, sent);
        if (auto error = whole.on_whole(stream ? plain : response->body)) {
            return std::unexpected(failure(std::move(*error), whole.take(Clock::now())));
        }
        return whole.take(Clock::now());
    }
    return streamed.finish();
}

RemoteResult RemoteClient::chat(const RemoteChatRequest& request, const DeltaHandler& on_delta,
                                const CancelToken& cancel) const {
    return generate("/chat/completions", chat_body(request), true, request.model, on_delta, cancel);
}

RemoteResult RemoteClient::complete(const RemoteCompletionRequest& request,
                                    const DeltaHandler& on_delta, const CancelToken& cancel) const {
    return generate("/completions", completion_body(request), false, request.model, on_delta,
                    cancel);
}

} // namespace hearth::remote
