// The request fuzz input's steps (request_fuzz_input.h).
#include "request_fuzz_input.h"

#include "fuzz_outcome.h"
#include "hearth/chat_template.h"
#include "hearth/server/openai_request.h"
#include "hearth/server/openai_response.h"

#include <fmt/format.h>

namespace hearth::fuzz {
namespace {

// The error as the server sends it: the body is written too, since a parser's message may
// quote the client's bytes.
std::string describe(const server::ApiError& error) {
    const std::string body = server::json_text(server::error_body(error));
    return fmt::format("error {} {} [{}], body {} bytes: {}\n", error.status, error.type,
                       error.param, body.size(), error.message);
}

std::string describe(const server::GenerationRequest& g) {
    return fmt::format("settings: n={} stream={} usage={} max={} stop={} logprobs={}/{} "
                       "temperature={} top_k={} top_p={} min_p={} repeat={} seed={}\n",
                       g.n, g.stream, g.include_usage, g.max_tokens.value_or(-1), g.stop.size(),
                       g.logprobs, g.top_logprobs, g.sampling.temperature, g.sampling.top_k,
                       g.sampling.top_p, g.sampling.min_p, g.sampling.repeat_penalty,
                       g.sampling.seed);
}

// The responses a reply of `text` would get, as the server writes them.
std::string write_responses(std::string_view text) {
    const server::ResponseContext context{"chatcmpl-fuzz", 0, "fuzz", "fuzz"};
    server::ChoiceResult choice;
    choice.text = std::string(text);
    choice.reasoning = std::string(text.substr(0, text.size() / 2));
    choice.logprobs_requested = true;
    choice.logprobs = {{std::string(text), -1.0f, {{std::string(text), -1.0f}}}};
    std::string out = server::sse_event(server::chat_completion(context, {choice}, {1, 1, 0, 0}));
    out += server::sse_event(server::chat_completion_chunk(
        context, {.index = 0, .first = true, .content = std::string(text)}));
    out += server::sse_event(server::completion(context, {choice}, {1, 1, 0, 0}));
    return fmt::format("responses: {} bytes, hash {:016x}\n", out.size(), fnv1a(out));
}

} // namespace

std::string run_request_input(std::string_view body) {
    std::string out;
    auto chat = server::parse_chat_completion_request(body);
    if (!chat) {
        out += "chat " + describe(chat.error());
    } else {
        out += "chat " + describe(chat->generation);
        static const auto chatml = ChatTemplate::parse(find_builtin_template("chatml")->source);
        ChatRenderOptions options;
        options.tools = chat->tools;
        if (chat->template_variables.is_object()) {
            options.extra = chat->template_variables;
        }
        options.render = fuzz_render_options();
        out +=
            "rendered: " + fuzz::describe(chatml->render_messages(chat->messages, options)) + "\n";
        out += write_responses(chat->messages.back()["content"].get<std::string>());
    }
    auto completion = server::parse_completion_request(body);
    if (!completion) {
        out += "completion " + describe(completion.error());
    } else {
        out += "completion " + describe(completion->generation);
        out += fmt::format("prompt: {} bytes, {} tokens\n", completion->prompt_text.size(),
                           completion->prompt_tokens.size());
        out += write_responses(completion->prompt_text);
    }
    return out;
}

} // namespace hearth::fuzz
