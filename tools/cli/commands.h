// hearth-cli's subcommands. Each takes argv after the subcommand's name and returns the
// process exit status (0 on success, 1 on a failure it has reported on stderr,
// 2 on a usage error).
#pragma once

namespace hearth::cli {

int cmd_info(int argc, char** argv);
int cmd_tensor(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_pull(int argc, char** argv);

// Prints "hearth-cli: <message>" on stderr and returns 1.
int report_error(const char* message);

} // namespace hearth::cli
