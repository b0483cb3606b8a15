// `hearth-cli serve MODEL [...]`: the OpenAI-compatible server (server/) on one scheduler,
// until SIGINT or SIGTERM. The first line on stdout is the server's URL once it listens, so a
// script that asked for --port 0 can read which port it got.
#include "commands.h"
#include "generation_args.h"
#include "hearth/scheduler.h"
#include "hearth/server/access.h"
#include "hearth/server/server.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <pthread.h>

namespace hearth::cli {

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

namespace {

Result<server::ServerOptions> read_server_options(const Args& args, const std::string& path) {
    server::ServerOptions options;
    options.host = args.get("--host").value_or("127.0.0.1");
    auto port = args.get_int("--port");
    if (!port) {
        return std::unexpected(port.error());
    }
    options.port = static_cast<int>(port->value_or(8080));
    if (auto var = args.get("--api-key-env")) {
        const char* key = std::getenv(var->c_str());
        if (!key || !*key) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("--api-key-env: the environment variable {} is not set or "
                                    "empty",
                                    *var));
        }
        options.api_key = key;
    }
    if (auto refused = server::check_bind_address(options.host, !options.api_key.empty())) {
        return fail(ErrorCode::invalid_argument, *refused);
    }
    options.cors_origin = args.get("--cors").value_or("");
    const std::filesystem::path file(path);
    options.model_id = args.get("--name").value_or(file.stem().string());
    options.model_aliases = {file.filename().string()};
    options.template_name = args.get("--template").value_or("");
    options.log = [](std::string_view line) {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
    return options;
}

} // namespace

int cmd_serve(const Args& args) {
    if (args.positionals.size() != 1) {
        return usage_error(*args.spec, "expects one MODEL");
    }
    const std::string& path = args.positionals[0];
    auto server_options = read_server_options(args, path);
    if (!server_options) {
        return usage_error(*args.spec, server_options.error().message);
    }
    SchedulerOptions scheduler_options;
    int threads = 0;
    for (auto [option, target] : {std::pair{"--slots", &scheduler_options.n_slots},
                                  std::pair{"--queue", &scheduler_options.queue_capacity}}) {
        auto value = args.get_int(option);
        if (!value) {
            return usage_error(*args.spec, value.error().message);
        }
        if (*value) {
            *target = static_cast<size_t>(**value);
        }
    }
    for (auto [option, target] : {std::pair{"--ctx", &scheduler_options.session.n_ctx},
                                  std::pair{"--batch", &scheduler_options.step_prompt_budget}}) {
        auto value = args.get_int(option);
        if (!value) {
            return usage_error(*args.spec, value.error().message);
        }
        if (*value) {
            *target = static_cast<uint32_t>(**value);
        }
    }
    if (auto value = args.get_int("--threads"); !value) {
        return usage_error(*args.spec, value.error().message);
    } else if (*value) {
        threads = static_cast<int>(**value);
    }
    auto kv_type = read_kv_type(args);
    auto device = read_device(args);
    auto gpu_layers = read_gpu_layers(args);
    if (!kv_type || !device || !gpu_layers) {
        return usage_error(*args.spec, !kv_type  ? kv_type.error().message
                                       : !device ? device.error().message
                                                 : gpu_layers.error().message);
    }
    scheduler_options.session.kv_type = *kv_type;
    scheduler_options.session.gpu_layers = *gpu_layers;
    scheduler_options.session.n_batch = scheduler_options.step_prompt_budget;

    // SIGINT and SIGTERM are waited for below; blocked before any thread starts, so that
    // every thread inherits the mask and none is interrupted by them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto model = load_model_for_cli(path, threads);
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    // The device choice and its CPU fall back are the other commands' (create_cli_sessions).
    auto scheduler =
        create_cli_scheduler(*model, scheduler_options.session, *device, scheduler_options.n_slots,
                             scheduler_options.queue_capacity);
    if (!scheduler) {
        return report_error(scheduler.error().message.c_str());
    }
    auto server = server::OpenAiServer::start(*model, **scheduler, *server_options);
    if (!server) {
        return report_error(server.error().message.c_str());
    }
    std::printf("%s\n", (*server)->url().c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "serving %s as '%s' at %s: %zu slots, a queue of %zu%s (Ctrl+C stops)\n",
                 path.c_str(), server_options->model_id.c_str(), (*server)->url().c_str(),
                 (*scheduler)->n_slots(), scheduler_options.queue_capacity,
                 server_options->api_key.empty() ? "" : ", API key required");
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::fprintf(stderr, "stopping (%s)\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->stop();
    (*scheduler)->shutdown();
    return 0;
}

} // namespace hearth::cli
