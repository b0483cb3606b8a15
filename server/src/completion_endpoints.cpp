// POST /v1/chat/completions and /v1/completions: the request read, its prompt rendered and
// tokenized, its choices submitted to the scheduler, and the reply written whole or streamed
// as server-sent events while the tokens come.
#include "generation_job.h"
#include "hearth/reasoning.h"
#include "server_impl.h"

#include <fmt/format.h>

namespace hearth::server {
namespace {

using Json = nlohmann::ordered_json;

// Counts a generation request in flight while it is answered.
struct InFlight {
    std::atomic<uint64_t>& count;
    explicit InFlight(std::atomic<uint64_t>& c) : count(c) { count += 1; }
    ~InFlight() { count -= 1; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
};

struct Prompt {
    std::vector<int32_t> tokens;
    bool starts_in_reasoning = false; // the template opened the reasoning for the reply
};

std::expected<Prompt, ApiError> chat_prompt(const OpenAiServer::Impl& server,
                                            const ChatCompletionRequest& request) {
    const PromptFormat& format = server.format;
    std::string text;
    if (!format.chat_template) {
        for (const Json& message : request.messages) {
            text += message["content"].get<std::string>();
        }
    } else {
        ChatRenderOptions options;
        options.add_generation_prompt = true;
        options.bos_token = format.bos_token;
        options.eos_token = format.eos_token;
        options.tools = request.tools;
        if (request.template_variables.is_object()) {
            options.extra = request.template_variables;
        }
        auto rendered = format.chat_template->render_messages(request.messages, options);
        if (!rendered) {
            return std::unexpected(bad_request(
                "the model's chat template refused these messages: " + rendered.error().message,
                "messages", "template_error"));
        }
        text = std::move(*rendered);
    }
    auto tokens = tokenize_prompt(server.model->tokenizer(), text);
    if (!tokens) {
        return std::unexpected(bad_request(tokens.error().message, "messages"));
    }
    return Prompt{std::move(*tokens), prompt_opens_reasoning(format.reasoning, text)};
}

std::expected<Prompt, ApiError> completion_prompt(const OpenAiServer::Impl& server,
                                                  const CompletionRequest& request) {
    const Tokenizer& tokenizer = server.model->tokenizer();
    if (request.prompt_is_tokens) {
        for (int32_t token : request.prompt_tokens) {
            if (token >= tokenizer.n_vocab()) {
                return std::unexpected(
                    bad_request(fmt::format("'prompt' holds token {}; the vocabulary has {} tokens",
                                            token, tokenizer.n_vocab()),
                                "prompt", "invalid_value"));
            }
        }
        return Prompt{request.prompt_tokens, false};
    }
    auto tokens = tokenize_prompt(tokenizer, request.prompt_text);
    if (!tokens) {
        return std::unexpected(bad_request(tokens.error().message, "prompt"));
    }
    return Prompt{std::move(*tokens), false};
}

// The scheduler request every choice starts from.
SchedulerRequest scheduler_request(const OpenAiServer::Impl& server, const Prompt& prompt,
                                   const GenerationRequest& generation, bool with_template_stops) {
    SchedulerRequest r;
    r.prompt = prompt.tokens;
    r.sampling = generation.sampling;
    r.options.max_tokens = generation.max_tokens.value_or(server.options.limits.max_tokens);
    r.options.stop_strings = generation.stop;
    if (with_template_stops) {
        for (const std::string& stop : server.format.stop_strings) {
            r.options.stop_strings.push_back(stop);
        }
    }
    return r;
}

// One choice's reply as it is put together from its pieces.
struct ChoiceText {
    ReasoningSplitter splitter;
    std::string text;
    std::string reasoning;
    std::vector<TokenLogprob> logprobs;
};

// What differs between the two endpoints' answers.
struct Endpoint {
    bool chat = true;
    const char* id_prefix = "chatcmpl-";
    const char* chunk_object = "chat.completion.chunk";
};

Usage usage_of(const GenerationJob& job, const std::vector<ChoiceText>& choices) {
    Usage usage;
    for (size_t i = 0; i < job.results().size(); ++i) {
        const auto& result = job.results()[i];
        if (!result || !*result) {
            continue;
        }
        if (i == 0) {
            usage.prompt_tokens = (*result)->n_prompt;
            usage.cached_tokens = (*result)->n_reused + (*result)->n_shared;
        }
        usage.completion_tokens += (*result)->n_generated;
        usage.reasoning_tokens += choices[i].splitter.reasoning_tokens();
    }
    return usage;
}

// The first failure of a choice other than being cancelled, if any.
std::optional<ApiError> failure_of(const GenerationJob& job) {
    for (const auto& result : job.results()) {
        if (result && !*result && result->error().code != ErrorCode::cancelled) {
            return server_error("generation failed: " + result->error().message);
        }
    }
    return std::nullopt;
}

ChoiceResult choice_result(const GenerationJob& job, std::vector<ChoiceText>& choices, size_t i,
                           bool logprobs_requested) {
    ChoiceResult c;
    c.index = static_cast<int32_t>(i);
    c.text = choices[i].text;
    c.reasoning = choices[i].reasoning;
    const auto& result = job.results()[i];
    c.stop = result && *result ? (*result)->stop : StopReason::cancelled;
    c.logprobs = choices[i].logprobs;
    c.logprobs_requested = logprobs_requested;
    return c;
}

void answer(OpenAiServer::Impl& server, httplib::Response& response, const Endpoint& endpoint,
            std::shared_ptr<GenerationJob> job, const GenerationRequest& generation,
            const Prompt& prompt, std::shared_ptr<InFlight> counted) {
    const ResponseContext context = server.context(endpoint.id_prefix);
    auto choices = std::make_shared<std::vector<ChoiceText>>(static_cast<size_t>(generation.n));
    for (ChoiceText& c : *choices) {
        if (endpoint.chat) {
            c.splitter = ReasoningSplitter(server.format.reasoning, prompt.starts_in_reasoning);
        }
    }
    // Adds a choice's piece; returns the delta it makes visible.
    auto absorb = [choices, endpoint](const GenerationJob::Piece& piece) {
        ChoiceText& c = (*choices)[static_cast<size_t>(piece.choice)];
        ReasoningDelta delta = endpoint.chat ? c.splitter.feed_token(piece.text, piece.ms)
                                             : ReasoningDelta{{}, piece.text};
        c.text += delta.answer;
        c.reasoning += delta.reasoning;
        if (piece.logprob) {
            c.logprobs.push_back(*piece.logprob);
        }
        return delta;
    };
    auto flush = [choices, endpoint](size_t i) {
        ChoiceText& c = (*choices)[i];
        ReasoningDelta delta = endpoint.chat ? c.splitter.finish() : ReasoningDelta{};
        c.text += delta.answer;
        c.reasoning += delta.reasoning;
        return delta;
    };

    if (!generation.stream) {
        bool finished = false;
        while (!finished) {
            for (const auto& piece : job->take(std::chrono::milliseconds(500), finished)) {
                absorb(piece);
            }
        }
        for (size_t i = 0; i < choices->size(); ++i) {
            flush(i);
        }
        if (auto failed = failure_of(*job)) {
            send_error(response, *failed);
            return;
        }
        std::vector<ChoiceResult> results;
        for (size_t i = 0; i < choices->size(); ++i) {
            results.push_back(choice_result(*job, *choices, i, generation.logprobs));
        }
        const Usage usage = usage_of(*job, *choices);
        response.set_content(json_text(endpoint.chat ? chat_completion(context, results, usage)
                                                     : completion(context, results, usage)),
                             "application/json");
        return;
    }

    // Streamed: the provider runs on this connection's thread until it calls done(), taking
    // the pieces as they come and writing one event per visible delta.
    auto started = std::make_shared<bool>(false);
    auto event = [context, endpoint, generation](size_t i, const ReasoningDelta& delta,
                                                 std::vector<TokenLogprob> logprobs,
                                                 std::optional<StopReason> finish) {
        if (endpoint.chat) {
            return sse_event(
                chat_completion_chunk(context, {.index = static_cast<int32_t>(i),
                                                .first = false,
                                                .content = delta.answer,
                                                .reasoning = delta.reasoning,
                                                .logprobs = std::move(logprobs),
                                                .logprobs_requested = generation.logprobs,
                                                .finish = finish}));
        }
        return sse_event(completion_chunk(context, static_cast<int32_t>(i), delta.answer, logprobs,
                                          generation.logprobs, finish));
    };
    Scheduler& scheduler = server.scheduler;
    auto provider = [&server, &scheduler, job, choices, started, event, absorb, flush, context,
                     endpoint, generation](size_t, httplib::DataSink& sink) {
        auto send = [&sink](const std::string& text) {
            return sink.write(text.data(), text.size());
        };
        auto gone = [&] {
            job->abandon(scheduler);
            server.disconnected += 1;
            return false;
        };
        if (!*started) {
            *started = true;
            if (endpoint.chat) {
                for (size_t i = 0; i < choices->size(); ++i) {
                    if (!send(sse_event(chat_completion_chunk(
                            context, {.index = static_cast<int32_t>(i), .first = true})))) {
                        return gone();
                    }
                }
            }
        }
        bool finished = false;
        const auto pieces = job->take(std::chrono::milliseconds(250), finished);
        for (const auto& piece : pieces) {
            const ReasoningDelta delta = absorb(piece);
            std::vector<TokenLogprob> logprobs;
            if (piece.logprob) {
                logprobs.push_back(*piece.logprob);
            }
            if (delta.answer.empty() && delta.reasoning.empty() && logprobs.empty()) {
                continue;
            }
            if (!send(event(static_cast<size_t>(piece.choice), delta, std::move(logprobs),
                            std::nullopt))) {
                return gone();
            }
        }
        if (pieces.empty() && !finished && !sink.is_writable()) {
            return gone();
        }
        if (!finished) {
            return true;
        }
        if (auto failed = failure_of(*job)) {
            send(sse_event(error_body(*failed)));
        } else {
            for (size_t i = 0; i < choices->size(); ++i) {
                const ReasoningDelta rest = flush(i);
                if (!rest.answer.empty() || !rest.reasoning.empty()) {
                    send(event(i, rest, {}, std::nullopt));
                }
                const auto& result = job->results()[i];
                send(event(i, {}, {}, result && *result ? (*result)->stop : StopReason::cancelled));
            }
            if (generation.include_usage) {
                send(sse_event(
                    usage_chunk(context, endpoint.chunk_object, usage_of(*job, *choices))));
            }
        }
        send(std::string(kSseDone));
        sink.done();
        return true;
    };
    response.set_header("Cache-Control", "no-cache");
    response.set_chunked_content_provider("text/event-stream", provider,
                                          [&server, &scheduler, job, counted](bool success) {
                                              if (!success) {
                                                  job->abandon(scheduler);
                                                  server.disconnected += 1;
                                              }
                                          });
}

// What both endpoints do once the request is read and its prompt made.
// A request for another model than this server's: 404, as OpenAI answers it.
bool refuse_other_model(const OpenAiServer::Impl& server, httplib::Response& response,
                        const std::string& model) {
    if (server.serves_model(model)) {
        return false;
    }
    send_error(response, not_found(fmt::format("the model '{}' is not served here; GET /v1/models "
                                               "lists '{}'",
                                               model, server.options.model_id),
                                   "model", "model_not_found"));
    return true;
}

// What both endpoints do once the request is read and its prompt made. A streamed answer
// keeps `counted` until its stream ends.
void run(OpenAiServer::Impl& server, httplib::Response& response, const Endpoint& endpoint,
         const Prompt& prompt, const GenerationRequest& generation,
         std::shared_ptr<InFlight> counted) {
    auto job = std::make_shared<GenerationJob>(
        server.model->tokenizer(), scheduler_request(server, prompt, generation, endpoint.chat),
        generation.n, generation.logprobs ? generation.top_logprobs : -1, server.tokens);
    if (auto submitted = job->submit(server.scheduler); !submitted) {
        send_error(response,
                   scheduler_refusal(submitted.error(), server.options.queue_full_status));
        return;
    }
    server.track(job);
    answer(server, response, endpoint, std::move(job), generation, prompt, std::move(counted));
}

} // namespace

void handle_chat_completions(OpenAiServer::Impl& server, const httplib::Request& request,
                             httplib::Response& response) {
    auto counted = std::make_shared<InFlight>(server.in_flight);
    auto parsed = parse_chat_completion_request(request.body, server.options.limits);
    if (!parsed) {
        send_error(response, parsed.error());
        return;
    }
    if (refuse_other_model(server, response, parsed->model)) {
        return;
    }
    auto prompt = chat_prompt(server, *parsed);
    if (!prompt) {
        send_error(response, prompt.error());
        return;
    }
    run(server, response, Endpoint{}, *prompt, parsed->generation, std::move(counted));
}

void handle_completions(OpenAiServer::Impl& server, const httplib::Request& request,
                        httplib::Response& response) {
    auto counted = std::make_shared<InFlight>(server.in_flight);
    auto parsed = parse_completion_request(request.body, server.options.limits);
    if (!parsed) {
        send_error(response, parsed.error());
        return;
    }
    if (refuse_other_model(server, response, parsed->model)) {
        return;
    }
    auto prompt = completion_prompt(server, *parsed);
    if (!prompt) {
        send_error(response, prompt.error());
        return;
    }
    run(server, response, Endpoint{false, "cmpl-", "text_completion"}, *prompt, parsed->generation,
        std::move(counted));
}

} // namespace hearth::server
