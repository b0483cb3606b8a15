// The connection test: the model list, then the servers' own endpoints, each asked once and
// read best-effort, to tell what the server is and what it reports of itself:
// - Hearth: /v1/models owned_by "hearth"; /health has slots_idle (server/src/http_server.cpp).
// - llama.cpp's server: owned_by "llamacpp"; /props has default_generation_settings.n_ctx,
//   total_slots and build_info (tools/server/README.md, "GET /props").
// - vLLM: owned_by "vllm", max_model_len in /v1/models; /version {"version"}
//   (vllm/entrypoints/openai/api_server.py, show_version).
// - TGI: /info {"model_id", "version", "max_total_tokens", ...} (router/src/lib.rs, Info).
// - Ollama: /api/version {"version"}; /api/ps lists loaded models with size and size_vram
//   (and context_length in newer versions) (docs/api.md, "List Running Models").
#include "hearth/json_input.h"
#include "hearth/remote/openai_client.h"
#include "http_transport.h"
#include "server_text.h"

#include <fmt/format.h>

namespace hearth::remote {
namespace {

using Json = nlohmann::ordered_json;

// docs/LIMITS.md, "Remote servers": a metadata body read by the probe.
constexpr size_t kMaxProbeBodyBytes = size_t{1} << 20;

struct Prober {
    const EndpointConfig& config;
    const EndpointUrl& url;
    const CancelToken& cancel;

    // A 2xx JSON object from GET root+path; nullopt for anything else (absent, refused, not
    // JSON). Fails only when cancelled.
    std::expected<std::optional<Json>, RemoteError> get(const std::string& path) const {
        detail::HttpRequest request{"GET", url.root_prefix + path, {}, false, false};
        auto response = detail::http_exchange(config, url, request, {}, cancel, kMaxProbeBodyBytes);
        if (!response) {
            if (response.error().kind == RemoteErrorKind::cancelled) {
                return std::unexpected(response.error());
            }
            return std::optional<Json>();
        }
        if (response->status < 200 || response->status >= 300) {
            return std::optional<Json>();
        }
        auto parsed = parse_json_input(response->body, path, JsonLimits{kMaxProbeBodyBytes, 32});
        if (!parsed || !parsed->is_object()) {
            return std::optional<Json>(Json::object()); // 2xx, but not JSON: it exists
        }
        return std::optional<Json>(std::move(*parsed));
    }

    // Whether POST /v1/completions exists, asked with an empty body that every server refuses
    // without generating: 404/405 answers "no such route"; a 404 about a model (Ollama) or any
    // other refusal means the endpoint is there.
    std::expected<bool, RemoteError> has_completions() const {
        detail::HttpRequest request{"POST", url.api_prefix + "/completions", "{}", false, false};
        auto response = detail::http_exchange(config, url, request, {}, cancel, kMaxProbeBodyBytes);
        if (!response) {
            if (response.error().kind == RemoteErrorKind::cancelled) {
                return std::unexpected(response.error());
            }
            return false;
        }
        if (response->status == 404 || response->status == 405) {
            const RemoteError said = detail::status_error(url, *response, "?");
            return said.kind == RemoteErrorKind::model_not_found;
        }
        return true;
    }
};

std::string string_at(const Json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string()
               ? detail::quote_server_text(it->get<std::string>(), 80)
               : std::string();
}

uint64_t count_at(const Json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) {
        return 0;
    }
    const int64_t value = it->get<int64_t>();
    return value > 0 ? static_cast<uint64_t>(value) : 0;
}

uint32_t context_at(const Json& object, const char* key) {
    const uint64_t value = count_at(object, key);
    return value <= INT32_MAX ? static_cast<uint32_t>(value) : 0;
}

std::string gib(uint64_t bytes) {
    return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / double(uint64_t{1} << 30));
}

void read_llama_props(const Json& props, ServerProbe& probe) {
    probe.family = ServerFamily::llama_server;
    probe.version = string_at(props, "build_info");
    if (auto it = props.find("default_generation_settings"); it != props.end() && it->is_object()) {
        probe.context_length = context_at(*it, "n_ctx");
    }
    if (probe.context_length == 0) {
        probe.context_length = context_at(props, "n_ctx");
    }
    if (probe.context_length > 0) {
        probe.facts.push_back(
            fmt::format("context {} tokens per slot (/props n_ctx)", probe.context_length));
    }
    if (const uint64_t slots = count_at(props, "total_slots")) {
        probe.facts.push_back(fmt::format("{} parallel slots (/props total_slots)", slots));
    }
}

void read_tgi_info(const Json& info, ServerProbe& probe) {
    probe.family = ServerFamily::tgi;
    probe.version = string_at(info, "version");
    probe.context_length = context_at(info, "max_total_tokens");
    if (probe.context_length > 0) {
        probe.facts.push_back(fmt::format("at most {} tokens per request, prompt and reply (/info "
                                          "max_total_tokens)",
                                          probe.context_length));
    }
    if (const std::string dtype = string_at(info, "model_dtype"); !dtype.empty()) {
        probe.facts.push_back(fmt::format("weights in {} (/info model_dtype)", dtype));
    }
}

void read_ollama_ps(const Json& ps, ServerProbe& probe) {
    const auto models = ps.find("models");
    if (models == ps.end() || !models->is_array()) {
        return;
    }
    for (const Json& model : *models) {
        if (!model.is_object()) {
            continue;
        }
        probe.model_memory_bytes += count_at(model, "size");
        probe.gpu_memory_bytes += count_at(model, "size_vram");
        if (probe.context_length == 0) {
            probe.context_length = context_at(model, "context_length");
        }
    }
    if (probe.model_memory_bytes > 0) {
        probe.facts.push_back(fmt::format("loaded models use {} on the server, {} of it on GPUs "
                                          "(/api/ps size, size_vram)",
                                          gib(probe.model_memory_bytes),
                                          gib(probe.gpu_memory_bytes)));
    }
    if (probe.context_length > 0) {
        probe.facts.push_back(
            fmt::format("context {} tokens (/api/ps context_length)", probe.context_length));
    }
}

ServerFamily family_from_owner(const std::vector<RemoteModel>& models) {
    for (const RemoteModel& m : models) {
        if (m.owned_by == "hearth") {
            return ServerFamily::hearth;
        }
        if (m.owned_by == "vllm") {
            return ServerFamily::vllm;
        }
        if (m.owned_by == "llamacpp") {
            return ServerFamily::llama_server;
        }
    }
    return ServerFamily::unknown;
}

// The servers' own endpoints, each asked only while the family is still open: fills the
// family, version, context and memory figures. Fails only when cancelled.
std::expected<void, RemoteError> identify(const Prober& prober, ServerProbe& probe) {
    const auto open_or = [&](ServerFamily family) {
        return probe.family == ServerFamily::unknown || probe.family == family;
    };
    // Each answer, or nullopt for an endpoint the server lacks; cancellation passes up.
    std::optional<RemoteError> cancelled;
    const auto ask = [&](const char* path) -> std::optional<Json> {
        auto answer = prober.get(path);
        if (!answer) {
            cancelled = answer.error();
            return std::nullopt;
        }
        return *answer;
    };
    if (open_or(ServerFamily::llama_server)) {
        if (auto props = ask("/props"); props && props->contains("default_generation_settings")) {
            read_llama_props(*props, probe);
        }
    }
    if (!cancelled && open_or(ServerFamily::vllm)) {
        if (auto version = ask("/version"); version && !string_at(*version, "version").empty()) {
            probe.family = ServerFamily::vllm;
            probe.version = string_at(*version, "version");
        }
    }
    if (!cancelled && probe.family == ServerFamily::unknown) {
        if (auto info = ask("/info"); info && info->contains("max_total_tokens")) {
            read_tgi_info(*info, probe);
        }
    }
    if (!cancelled && probe.family == ServerFamily::unknown) {
        if (auto version = ask("/api/version");
            version && !string_at(*version, "version").empty()) {
            probe.family = ServerFamily::ollama;
            probe.version = string_at(*version, "version");
            if (auto ps = ask("/api/ps")) {
                read_ollama_ps(*ps, probe);
            }
        }
    }
    if (!cancelled && probe.family == ServerFamily::hearth) {
        if (auto health = ask("/health"); health && health->contains("slots_idle")) {
            probe.facts.push_back(fmt::format("{} slots idle, {} busy (/health)",
                                              count_at(*health, "slots_idle"),
                                              count_at(*health, "slots_processing")));
        }
    }
    if (cancelled) {
        return std::unexpected(*cancelled);
    }
    return {};
}

// The context from the model list (vLLM's serving length; others' training length as a fact),
// the knobs, and the one-line description.
void describe(ServerProbe& probe) {
    if (!probe.models.empty() && probe.models.front().context_length > 0) {
        const RemoteModel& m = probe.models.front(); // it speaks for the server
        if (probe.family == ServerFamily::vllm && probe.context_length == 0) {
            probe.context_length = m.context_length;
            probe.facts.push_back(
                fmt::format("context {} tokens (/v1/models max_model_len)", m.context_length));
        } else if (probe.family != ServerFamily::vllm) {
            probe.facts.push_back(fmt::format("'{}' was trained for {} tokens (meta.n_ctx_train)",
                                              m.id, m.context_length));
        }
    }
    probe.facts.push_back(probe.has_completions
                              ? "raw prompts: /v1/completions is there"
                              : "no /v1/completions: the server applies its own chat template");
    probe.knobs = knob_support(probe.family);
    probe.description = probe.version.empty()
                            ? std::string(server_family_name(probe.family))
                            : fmt::format("{} {}", server_family_name(probe.family), probe.version);
    probe.facts.front() = fmt::format("server: {}", probe.description); // kept first
    if (const auto ignored = ignored_knobs(probe.family); !ignored.empty()) {
        std::string list;
        for (const std::string& name : ignored) {
            list += list.empty() ? name : ", " + name;
        }
        probe.facts.push_back(fmt::format("ignores: {}", list));
    }
}

} // namespace

std::expected<ServerProbe, RemoteError> RemoteClient::probe(const CancelToken& cancel) const {
    auto models = list_models(cancel);
    if (!models) {
        return std::unexpected(models.error());
    }
    ServerProbe probe;
    probe.models = std::move(*models);
    probe.facts.emplace_back(); // "server: ...", once known (describe)
    probe.facts.push_back(fmt::format("{} model{} listed (/v1/models)", probe.models.size(),
                                      probe.models.size() == 1 ? "" : "s"));
    probe.family = family_from_owner(probe.models);
    const Prober prober{config_, url_, cancel};
    if (auto identified = identify(prober, probe); !identified) {
        return std::unexpected(identified.error());
    }
    auto completions = prober.has_completions();
    if (!completions) {
        return std::unexpected(completions.error());
    }
    probe.has_completions = *completions;
    describe(probe);
    return probe;
}

} // namespace hearth::remote
