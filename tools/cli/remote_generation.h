// hearth-cli run, chat and compare with --endpoint URL: the conversation goes to a remote
// OpenAI-compatible server (hearth_remote) instead of a local model, printed in the local
// commands' shapes (the reply streamed, figures on stderr, --json's object).
#pragma once

#include "cli_args.h"
#include "hearth/remote/openai_client.h"
#include "hearth/session.h"

#include <string>

namespace hearth::cli {

// A connected endpoint: the client (its family from the connection test), the server's
// report, and the model the requests name.
struct CliEndpoint {
    remote::RemoteClient client;
    remote::ServerProbe probe;
    std::string model;
};

// --endpoint, --model and --api-key-env: checks the URL, reads the key from the variable
// (never from the command line, where `ps` would show it), runs the connection test and picks
// the model (--model, else the server's first). Says on stderr what the server is and which
// knobs it ignores. An error is printed; nullopt then, with `status` the exit status (2 for a
// usage error, 1 for a failure).
std::optional<CliEndpoint> connect_cli_endpoint(const Args& args, int& status);

// The options that only make sense for a local model, refused with --endpoint (a usage
// error naming the first one given).
std::optional<std::string> local_only_option(const Args& args);

// The local commands' statistics from what the client measured and the server counted:
// prompt and generated tokens (the server's usage, or one per streamed piece), the first
// token's wait as prefill, the rest as decode.
GenerationStats remote_stats(const remote::RemoteReply& reply);

int cmd_run_remote(const Args& args);
int cmd_chat_remote(const Args& args);

} // namespace hearth::cli
