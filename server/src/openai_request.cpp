// Reading the two generation endpoints' bodies: the shared sampling fields, then each
// endpoint's own (messages, or a prompt).
#include "hearth/server/openai_request.h"

#include "hearth/json_input.h"

#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace hearth::server {
namespace {

using Json = nlohmann::ordered_json;
template <class T>
using Parsed = std::expected<T, ApiError>;

const char* type_name(const Json& value) {
    switch (value.type()) {
    case Json::value_t::null:
        return "null";
    case Json::value_t::boolean:
        return "a boolean";
    case Json::value_t::string:
        return "a string";
    case Json::value_t::array:
        return "an array";
    case Json::value_t::object:
        return "an object";
    case Json::value_t::number_float:
        return "a number";
    default:
        return "an integer";
    }
}

ApiError wrong_type(std::string_view field, std::string_view wanted, const Json& value) {
    return bad_request(fmt::format("'{}' must be {}, not {}", field, wanted, type_name(value)),
                       std::string(field), "invalid_type");
}

ApiError out_of_range(std::string_view field, std::string_view range) {
    return bad_request(fmt::format("'{}' must be {}", field, range), std::string(field),
                       "invalid_value");
}

// A field of the body, absent or null meaning "not set".
const Json* field(const Json& body, std::string_view name) {
    auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

// Reads the fields of one object, keeping the first error: each read of a field that is
// absent, null or wrong gives nullopt, and error() says what was wrong first.
class Fields {
public:
    explicit Fields(const Json& object, std::string prefix = {})
        : object_(object), prefix_(std::move(prefix)) {}

    std::optional<double> number(std::string_view name, double lo, double hi) {
        const Json* value = get(name);
        if (!value) {
            return std::nullopt;
        }
        if (!value->is_number()) {
            return fail(wrong_type(path(name), "a number", *value));
        }
        const double x = value->get<double>();
        if (!std::isfinite(x) || x < lo || x > hi) {
            return fail(out_of_range(path(name), fmt::format("between {} and {}", lo, hi)));
        }
        return x;
    }

    std::optional<int64_t> integer(std::string_view name, int64_t lo, int64_t hi) {
        const Json* value = get(name);
        if (!value) {
            return std::nullopt;
        }
        std::optional<int64_t> i;
        if (value->is_number_float()) { // 3.0 is an integer to a JavaScript client; 3.5 is not
            const double x = value->get<double>();
            if (std::isfinite(x) && std::floor(x) == x && std::fabs(x) < 9.0e18) {
                i = static_cast<int64_t>(x);
            }
        } else if (value->is_number_unsigned()) {
            const auto u = value->get<uint64_t>();
            i = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                    ? std::numeric_limits<int64_t>::max()
                    : static_cast<int64_t>(u);
        } else if (value->is_number_integer()) {
            i = value->get<int64_t>();
        }
        if (!i) {
            return fail(wrong_type(path(name), "an integer", *value));
        }
        if (*i < lo || *i > hi) {
            return fail(out_of_range(path(name), fmt::format("between {} and {}", lo, hi)));
        }
        return i;
    }

    std::optional<bool> boolean(std::string_view name) {
        const Json* value = get(name);
        if (!value) {
            return std::nullopt;
        }
        if (!value->is_boolean()) {
            return fail(wrong_type(path(name), "true or false", *value));
        }
        return value->get<bool>();
    }

    // Records `error` unless an earlier one is there; returns nullopt for the caller.
    std::nullopt_t fail(ApiError error) {
        if (!error_) {
            error_ = std::move(error);
        }
        return std::nullopt;
    }
    const std::optional<ApiError>& error() const { return error_; }

private:
    const Json* get(std::string_view name) const { return error_ ? nullptr : field(object_, name); }
    std::string path(std::string_view name) const { return prefix_ + std::string(name); }

    const Json& object_;
    std::string prefix_;
    std::optional<ApiError> error_;
};

// Fields that would change the answer in ways Hearth does not implement.
std::optional<ApiError> refuse_unsupported(const Json& body) {
    if (const Json* format = field(body, "response_format")) {
        const bool text =
            format->is_object() && format->contains("type") && (*format)["type"] == "text";
        if (!text) {
            return bad_request("'response_format' other than {\"type\": \"text\"} is not "
                               "supported: Hearth does not constrain output to JSON yet",
                               "response_format", "unsupported_parameter");
        }
    }
    if (const Json* bias = field(body, "logit_bias");
        bias && !(bias->is_object() && bias->empty())) {
        return bad_request("'logit_bias' is not supported", "logit_bias", "unsupported_parameter");
    }
    for (const char* name : {"suffix", "echo"}) {
        if (const Json* value = field(body, name);
            value && *value != Json(false) && !(value->is_string() && value->empty())) {
            return bad_request(fmt::format("'{}' is not supported", name), name,
                               "unsupported_parameter");
        }
    }
    return std::nullopt;
}

Parsed<std::vector<std::string>> read_stop(const Json& body, const RequestLimits& limits) {
    std::vector<std::string> stop;
    const Json* value = field(body, "stop");
    if (!value) {
        return stop;
    }
    auto add = [&](const Json& s) -> std::optional<ApiError> {
        if (!s.is_string()) {
            return wrong_type("stop", "a string or a list of strings", s);
        }
        const auto& text = s.get_ref<const std::string&>();
        if (text.size() > limits.max_stop_bytes) {
            return out_of_range(
                "stop", fmt::format("strings of at most {} bytes each", limits.max_stop_bytes));
        }
        if (!text.empty()) { // an empty stop string would stop before the first token
            stop.push_back(text);
        }
        return std::nullopt;
    };
    if (value->is_array()) {
        if (value->size() > limits.max_stop_strings) {
            return std::unexpected(out_of_range(
                "stop", fmt::format("a list of at most {} strings", limits.max_stop_strings)));
        }
        for (const Json& s : *value) {
            if (auto error = add(s)) {
                return std::unexpected(*error);
            }
        }
    } else if (auto error = add(*value)) {
        return std::unexpected(*error);
    }
    return stop;
}

// The fields both endpoints share. `chat`: logprobs is a boolean with top_logprobs beside it;
// for /v1/completions it is the number of alternatives itself.
Parsed<GenerationRequest> read_generation(const Json& body, const RequestLimits& limits,
                                          bool chat) {
    GenerationRequest g;
    g.sampling = default_server_sampling();
    SamplingParams& s = g.sampling;
    Fields f(body);
    const auto temperature = f.number("temperature", 0, 2);
    const auto top_p = f.number("top_p", 0, 1);
    const auto min_p = f.number("min_p", 0, 1);
    const auto top_k = f.integer("top_k", -1, std::numeric_limits<int32_t>::max());
    const auto presence = f.number("presence_penalty", -2, 2);
    const auto frequency = f.number("frequency_penalty", -2, 2);
    const auto repetition = f.number("repetition_penalty", 0, 10);
    const auto repeat = f.number("repeat_penalty", 0, 10);
    // llama.cpp's server: how many recent tokens the penalties look at (-1 all, 0 off).
    const auto repeat_last_n = f.integer("repeat_last_n", -1, std::numeric_limits<int32_t>::max());
    const auto seed =
        f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    const auto n = f.integer("n", 1, limits.max_choices);
    const auto max_tokens = f.integer("max_tokens", 1, limits.max_tokens);
    const auto max_completion = f.integer("max_completion_tokens", 1, limits.max_tokens);
    const auto stream = f.boolean("stream");
    // Chat: logprobs is a switch and top_logprobs the alternatives; the legacy endpoint's
    // logprobs is the number of alternatives itself, at most 5.
    const auto logprobs = chat ? f.boolean("logprobs") : std::nullopt;
    const auto top_logprobs =
        chat ? f.integer("top_logprobs", 0, limits.max_top_logprobs) : f.integer("logprobs", 0, 5);
    if (f.error()) {
        return std::unexpected(*f.error());
    }
    auto stop = read_stop(body, limits);
    if (!stop) {
        return std::unexpected(stop.error());
    }
    if (temperature) {
        s.temperature = static_cast<float>(*temperature);
    }
    if (top_p) {
        // OpenAI takes 0; the chain needs a positive value, and the smallest keeps only the
        // most likely token, which is what 0 means.
        s.top_p = *top_p > 0 ? static_cast<float>(*top_p) : std::numeric_limits<float>::min();
    }
    if (min_p) {
        s.min_p = static_cast<float>(*min_p);
    }
    if (top_k) {
        s.top_k = *top_k < 0 ? 0 : static_cast<int32_t>(*top_k); // vLLM's -1 is "off"
    }
    if (presence) {
        s.presence_penalty = static_cast<float>(*presence);
    }
    if (frequency) {
        s.frequency_penalty = static_cast<float>(*frequency);
    }
    if (repetition && repeat && *repetition != *repeat) {
        return std::unexpected(
            bad_request("'repetition_penalty' and 'repeat_penalty' are the same setting; give one",
                        "repeat_penalty", "invalid_value"));
    }
    if (const auto penalty = repetition ? repetition : repeat) {
        if (*penalty <= 0) {
            return std::unexpected(
                out_of_range(repetition ? "repetition_penalty" : "repeat_penalty",
                             "greater than 0 and at most 10"));
        }
        s.repeat_penalty = static_cast<float>(*penalty);
    }
    if (repeat_last_n) {
        s.repeat_last_n = static_cast<int32_t>(*repeat_last_n);
    }
    if (seed) {
        s.seed = static_cast<uint64_t>(*seed);
    }
    g.n = static_cast<int32_t>(n.value_or(1));
    if (max_tokens && max_completion && *max_tokens != *max_completion) {
        return std::unexpected(
            bad_request("'max_tokens' and 'max_completion_tokens' differ; give one",
                        "max_completion_tokens", "invalid_value"));
    }
    if (const auto limit = max_completion ? max_completion : max_tokens) {
        g.max_tokens = static_cast<int32_t>(*limit);
    }
    g.stream = stream.value_or(false);
    g.stop = std::move(*stop);
    if (chat) {
        g.logprobs = logprobs.value_or(false);
        if (top_logprobs && !g.logprobs) {
            return std::unexpected(bad_request("'top_logprobs' needs 'logprobs' set to true",
                                               "top_logprobs", "invalid_value"));
        }
    } else {
        g.logprobs = top_logprobs.has_value();
    }
    g.top_logprobs = static_cast<int32_t>(top_logprobs.value_or(0));

    if (const Json* options = field(body, "stream_options")) {
        if (!options->is_object()) {
            return std::unexpected(wrong_type("stream_options", "an object", *options));
        }
        if (!g.stream) {
            return std::unexpected(
                bad_request("'stream_options' is only allowed when 'stream' is true",
                            "stream_options", "invalid_value"));
        }
        Fields o(*options, "stream_options.");
        g.include_usage = o.boolean("include_usage").value_or(false);
        if (o.error()) {
            return std::unexpected(*o.error());
        }
    }
    if (const Json* best_of = field(body, "best_of"); best_of && *best_of != Json(g.n)) {
        return std::unexpected(bad_request("'best_of' other than 'n' is not supported", "best_of",
                                           "unsupported_parameter"));
    }
    if (auto valid = s.validate(); !valid) {
        return std::unexpected(bad_request(valid.error().message, {}, "invalid_value"));
    }
    return g;
}

Parsed<std::string> read_model(const Json& body) {
    const Json* model = field(body, "model");
    if (!model) {
        return std::string();
    }
    if (!model->is_string()) {
        return std::unexpected(wrong_type("model", "a string", *model));
    }
    return model->get<std::string>();
}

Parsed<Json> parse_body(std::string_view text, const RequestLimits& limits) {
    if (text.size() > limits.max_body_bytes) {
        return std::unexpected(payload_too_large(fmt::format(
            "the request body has {} bytes; the limit is {}", text.size(), limits.max_body_bytes)));
    }
    auto body = parse_json_input(text, "the request body",
                                 {.max_bytes = limits.max_body_bytes, .max_depth = 64});
    if (!body) {
        return std::unexpected(bad_request(body.error().message, {}, "invalid_json"));
    }
    if (!body->is_object()) {
        return std::unexpected(bad_request(fmt::format("the request body must be a JSON object, "
                                                       "not {}",
                                                       type_name(*body)),
                                           {}, "invalid_json"));
    }
    return std::move(*body);
}

// One message's content as the templates take it: a string. Text parts are joined; any other
// part is refused by name.
Parsed<std::string> message_text(const Json& content, const std::string& where) {
    if (content.is_string()) {
        return content.get<std::string>();
    }
    if (!content.is_array()) {
        return std::unexpected(wrong_type(where, "a string or a list of content parts", content));
    }
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const Json& part = content[i];
        const std::string at = fmt::format("{}[{}]", where, i);
        if (!part.is_object()) {
            return std::unexpected(wrong_type(at, "a content part object", part));
        }
        const Json* type = field(part, "type");
        if (!type || !type->is_string()) {
            return std::unexpected(bad_request(fmt::format("'{}.type' must be a string", at),
                                               at + ".type", "invalid_type"));
        }
        if (*type != "text") {
            return std::unexpected(bad_request(
                fmt::format("'{}' is a content part of type '{}': this server reads text parts "
                            "only",
                            at, type->get<std::string>()),
                at + ".type", "unsupported_content"));
        }
        const Json* part_text = field(part, "text");
        if (!part_text || !part_text->is_string()) {
            return std::unexpected(bad_request(fmt::format("'{}.text' must be a string", at),
                                               at + ".text", "invalid_type"));
        }
        text += part_text->get_ref<const std::string&>();
    }
    return text;
}

Parsed<Json> read_message(const Json& message, size_t index) {
    const std::string where = fmt::format("messages[{}]", index);
    if (!message.is_object()) {
        return std::unexpected(wrong_type(where, "an object", message));
    }
    const Json* role = field(message, "role");
    if (!role || !role->is_string()) {
        return std::unexpected(bad_request(fmt::format("'{}.role' must be a string", where),
                                           where + ".role", "invalid_type"));
    }
    std::string role_name = role->get<std::string>();
    if (role_name == "developer") { // OpenAI's newer name for the system role
        role_name = "system";
    }
    if (role_name != "system" && role_name != "user" && role_name != "assistant" &&
        role_name != "tool") {
        return std::unexpected(bad_request(
            fmt::format("'{}.role' is '{}': use system, developer, user, assistant or tool", where,
                        role->get<std::string>()),
            where + ".role", "invalid_value"));
    }
    Json out = Json::object();
    out["role"] = role_name;
    const Json* content = field(message, "content");
    const Json* tool_calls = field(message, "tool_calls");
    if (content) {
        auto text = message_text(*content, where + ".content");
        if (!text) {
            return std::unexpected(text.error());
        }
        out["content"] = std::move(*text);
    } else if (role_name == "assistant" && tool_calls) {
        out["content"] = ""; // a reply that only calls tools
    } else {
        return std::unexpected(bad_request(fmt::format("'{}.content' is missing", where),
                                           where + ".content", "missing_required_parameter"));
    }
    if (tool_calls) {
        if (role_name != "assistant" || !tool_calls->is_array()) {
            return std::unexpected(bad_request(
                fmt::format("'{}.tool_calls' must be a list, on an assistant message", where),
                where + ".tool_calls", "invalid_type"));
        }
        out["tool_calls"] = *tool_calls;
    }
    for (const char* name : {"reasoning_content", "tool_call_id", "name"}) {
        if (const Json* value = field(message, name)) {
            if (!value->is_string()) {
                return std::unexpected(
                    wrong_type(fmt::format("{}.{}", where, name), "a string", *value));
            }
            out[name] = *value;
        }
    }
    return out;
}

} // namespace

SamplingParams default_server_sampling() {
    SamplingParams s;
    s.temperature = 0.8f;
    s.top_k = 40;
    s.top_p = 0.95f;
    s.min_p = 0.05f;
    s.repeat_penalty = 1.0f;
    s.repeat_last_n = 64;
    s.presence_penalty = 0.0f;
    s.frequency_penalty = 0.0f;
    return s;
}

std::expected<ChatCompletionRequest, ApiError>
parse_chat_completion_request(std::string_view text, const RequestLimits& limits) {
    auto body = parse_body(text, limits);
    if (!body) {
        return std::unexpected(body.error());
    }
    if (auto refused = refuse_unsupported(*body)) {
        return std::unexpected(*refused);
    }
    ChatCompletionRequest request;
    auto model = read_model(*body);
    if (!model) {
        return std::unexpected(model.error());
    }
    request.model = std::move(*model);
    const Json* messages = field(*body, "messages");
    if (!messages) {
        return std::unexpected(
            bad_request("'messages' is missing", "messages", "missing_required_parameter"));
    }
    if (!messages->is_array()) {
        return std::unexpected(wrong_type("messages", "a list of messages", *messages));
    }
    if (messages->empty()) {
        return std::unexpected(bad_request("'messages' is empty: send at least one message",
                                           "messages", "invalid_value"));
    }
    if (messages->size() > limits.max_messages) {
        return std::unexpected(out_of_range(
            "messages", fmt::format("a list of at most {} messages", limits.max_messages)));
    }
    for (size_t i = 0; i < messages->size(); ++i) {
        auto message = read_message((*messages)[i], i);
        if (!message) {
            return std::unexpected(message.error());
        }
        request.messages.push_back(std::move(*message));
    }
    if (const Json* tools = field(*body, "tools")) {
        if (!tools->is_array()) {
            return std::unexpected(wrong_type("tools", "a list of tools", *tools));
        }
        request.tools = *tools;
    }
    if (const Json* kwargs = field(*body, "chat_template_kwargs")) {
        if (!kwargs->is_object()) {
            return std::unexpected(wrong_type("chat_template_kwargs", "an object", *kwargs));
        }
        request.template_variables = *kwargs;
    }
    auto generation = read_generation(*body, limits, true);
    if (!generation) {
        return std::unexpected(generation.error());
    }
    request.generation = std::move(*generation);
    return request;
}

std::expected<CompletionRequest, ApiError> parse_completion_request(std::string_view text,
                                                                    const RequestLimits& limits) {
    auto body = parse_body(text, limits);
    if (!body) {
        return std::unexpected(body.error());
    }
    if (auto refused = refuse_unsupported(*body)) {
        return std::unexpected(*refused);
    }
    CompletionRequest request;
    auto model = read_model(*body);
    if (!model) {
        return std::unexpected(model.error());
    }
    request.model = std::move(*model);
    const Json* prompt = field(*body, "prompt");
    if (!prompt) {
        return std::unexpected(
            bad_request("'prompt' is missing", "prompt", "missing_required_parameter"));
    }
    // A string, a list of one string, a list of token ids, or a list of one such list.
    const Json* one = prompt;
    if (prompt->is_array() && prompt->size() == 1 &&
        ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
        one = &(*prompt)[0];
    } else if (prompt->is_array() && !prompt->empty() && !(*prompt)[0].is_number_integer()) {
        return std::unexpected(bad_request("'prompt' holds several prompts: send one per request",
                                           "prompt", "unsupported_parameter"));
    }
    if (one->is_string()) {
        request.prompt_text = one->get<std::string>();
        if (request.prompt_text.empty()) {
            return std::unexpected(bad_request("'prompt' is empty", "prompt", "invalid_value"));
        }
    } else if (one->is_array()) {
        if (one->empty()) {
            return std::unexpected(bad_request("'prompt' is empty", "prompt", "invalid_value"));
        }
        if (one->size() > limits.max_prompt_tokens) {
            return std::unexpected(
                out_of_range("prompt", fmt::format("at most {} tokens", limits.max_prompt_tokens)));
        }
        for (const Json& token : *one) {
            if (!token.is_number_integer() || token.get<int64_t>() < 0 ||
                token.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
                return std::unexpected(
                    bad_request("'prompt' as tokens must be a list of non-negative token ids",
                                "prompt", "invalid_type"));
            }
            request.prompt_tokens.push_back(static_cast<int32_t>(token.get<int64_t>()));
        }
        request.prompt_is_tokens = true;
    } else {
        return std::unexpected(wrong_type("prompt", "a string or a list of token ids", *one));
    }
    auto generation = read_generation(*body, limits, false);
    if (!generation) {
        return std::unexpected(generation.error());
    }
    request.generation = std::move(*generation);
    return request;
}

} // namespace hearth::server
