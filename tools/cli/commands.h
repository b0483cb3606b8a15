// hearth-cli's subcommands: each one's command line (options, --help lines, ranges) declared in
// command_specs.cpp, and the function that runs it on the parsed arguments. A command returns
// the process exit status: 0 on success, 1 on a failure it has reported on stderr, 2 on a
// usage error (cli_args.h).
#pragma once

#include "cli_args.h"

#include <cstddef>
#include <span>

namespace hearth::cli {

// A prompt (-f), a perplexity text or a tokenizer input, read whole (hearth/file_input.h: a
// regular file): wikitext-103's 540 MB training split fits; a larger file is refused before it
// is read. docs/LIMITS.md, "The command line".
inline constexpr size_t kMaxTextInputBytes = size_t{1} << 30;

// compare's columns: as many as fit side by side in a terminal, within the engine's
// kMaxSchedulerSlots (16).
inline constexpr size_t kMaxCompareColumns = 8;

struct Command {
    const CommandSpec& (*spec)();
    int (*run)(const Args& args);
};

// Every command, in the order `hearth-cli --help` lists them.
std::span<const Command> commands();

const CommandSpec& info_spec();
const CommandSpec& tensor_spec();
const CommandSpec& tokenize_spec();
const CommandSpec& run_spec();
const CommandSpec& compare_spec();
const CommandSpec& chat_spec();
const CommandSpec& perplexity_spec();
const CommandSpec& template_list_spec();
const CommandSpec& template_render_spec();
const CommandSpec& pull_spec();
const CommandSpec& serve_spec();
const CommandSpec& quantize_spec();
const CommandSpec& quant_lab_spec();
const CommandSpec& imatrix_spec();
const CommandSpec& doctor_spec();

int cmd_info(const Args& args);
int cmd_tensor(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_run(const Args& args);
int cmd_compare(const Args& args);
int cmd_chat(const Args& args);
int cmd_perplexity(const Args& args);
int cmd_template_list(const Args& args);
int cmd_template_render(const Args& args);
int cmd_pull(const Args& args);
int cmd_serve(const Args& args);
int cmd_quantize(const Args& args);
int cmd_quant_lab(const Args& args);
int cmd_imatrix(const Args& args);
int cmd_doctor(const Args& args);

// Prints "hearth-cli: <message>" on stderr and returns 1.
int report_error(const char* message);

} // namespace hearth::cli
