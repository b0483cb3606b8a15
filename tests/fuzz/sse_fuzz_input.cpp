// The stream-reading fuzz input: the body cut into pieces, read by StreamReader as the client
// reads the network, with a delta handler that checks each piece adds up to the reply.
#include "sse_fuzz_input.h"

#include "reply_reader.h"

#include <cstdlib>
#include <fmt/format.h>

namespace hearth::fuzz {

std::string run_sse_input(std::string_view input) {
    if (input.empty()) {
        return "empty\n";
    }
    const auto control = static_cast<unsigned char>(input.front());
    const size_t piece = 1 + (control & 63);
    const bool chat = (control & 64) == 0;
    input.remove_prefix(1);

    size_t delta_bytes = 0;
    remote::DeltaHandler on_delta = [&](const remote::RemoteDelta& delta) {
        delta_bytes += delta.content.size() + delta.reasoning.size();
        return true;
    };
    remote::detail::StreamReader reader(chat, on_delta, remote::detail::ReplyReader::Clock::now(),
                                        "the fuzz server");
    while (!input.empty()) {
        const std::string_view next = input.substr(0, piece);
        input.remove_prefix(next.size());
        if (!reader.feed(next)) {
            break;
        }
    }
    const remote::RemoteResult result = reader.finish();
    const remote::RemoteReply& reply = result ? *result : result.error().partial;
    // Every byte of the reply reached the handler, and nothing else did.
    if (delta_bytes != reply.content.size() + reply.reasoning.size()) {
        std::abort();
    }
    if (!result) {
        return fmt::format("failed {}: content {} reasoning {}\n",
                           remote::remote_error_kind_name(result.error().error.kind),
                           reply.content.size(), reply.reasoning.size());
    }
    return fmt::format("reply: content {} reasoning {} finish '{}' tokens {} by server {}\n",
                       reply.content.size(), reply.reasoning.size(), reply.finish_reason,
                       reply.completion_tokens, reply.tokens_counted_by_server);
}

} // namespace hearth::fuzz
