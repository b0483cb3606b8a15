// The command lines of hearth-cli and hearth-bench: each command's options declared once, with
// their --help lines and ranges, parsed into Args; usage errors and --help printed from the
// same declaration, so the parser and the help cannot disagree.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::cli {

// The exit status of a usage error: an unknown option, a missing or malformed value, a number
// out of its range. 1 is for failures while doing the work (a file, the model, the context).
constexpr int kUsageExitStatus = 2;

struct IntRange {
    long long low = 0;
    long long high = 0;
};

// One option: how it is spelled, what it takes and its line in --help.
struct OptionSpec {
    std::string name;        // "--ctx"
    std::string short_name;  // "-c", or empty
    std::string value;       // what it takes, as --help shows it ("N", "FILE"); empty for a flag
    std::string help;        // one line: what it does, its range and its default
    bool repeatable = false; // may be given more than once; every value is kept
    std::optional<IntRange> range; // an integer option's accepted values (Args::get_int)

    // Declarations read as one expression: option("--ctx", "N", "...").alias("-c").within(r).
    OptionSpec alias(std::string short_spelling) const;
    OptionSpec within(IntRange accepted) const;
    OptionSpec repeated() const;
};

// An option that takes a value, and a flag that takes none.
OptionSpec option(std::string name, std::string value, std::string help);
OptionSpec flag(std::string name, std::string help);

// -t, --threads N, as every command that runs a model takes it (1 to 1024; 0 is not "all").
OptionSpec threads_option();

struct CommandSpec {
    std::string program;  // "hearth-cli"
    std::string name;     // "run", "template render"; empty for a program without commands
    std::string synopsis; // what follows the name: "MODEL (-p PROMPT | -f FILE) [OPTIONS]"
    std::string summary;  // one line: what the command does
    std::vector<OptionSpec> options;

    // By long or short name; null when the command has no such option.
    const OptionSpec* find(std::string_view name) const;
    // "hearth-cli run": how messages name the command.
    std::string title() const;
};

struct Args {
    const CommandSpec* spec = nullptr; // what was parsed against (outlives the Args)
    bool help = false;                 // -h or --help was given
    std::vector<std::string> positionals;
    std::map<std::string, std::vector<std::string>> options; // by long name
    std::set<std::string> flags;                             // long names

    bool has(const std::string& flag) const { return flags.contains(flag); }
    std::optional<std::string> get(const std::string& option) const;
    const std::vector<std::string>& all(const std::string& option) const;
    // An integer option, checked against the range its OptionSpec declares; an error names the
    // option, the range and the value.
    Result<std::optional<long long>> get_int(const std::string& option) const;
    // A finite number (no nan, no inf); an error names the option and the value.
    Result<std::optional<double>> get_float(const std::string& option) const;
};

// Parses argv[0..argc) (the arguments after the command's name) against `spec`. "--" ends the
// options. -h and --help set Args::help, and win over any error in the same command line.
Result<Args> parse_args(int argc, char** argv, const CommandSpec& spec);

// The command's --help text: the usage line, the summary and every option, one line each.
std::string format_help(const CommandSpec& spec);

// Prints "hearth-cli run: <message>" and where the options are listed on stderr; returns
// kUsageExitStatus.
int usage_error(const CommandSpec& spec, std::string_view message);

// "4GiB", "512MiB", "1.5G", "8000000000": a size in bytes, binary units (K/KiB ... T/TiB, B or
// none), for info's --gpu-free and doctor's --memory-budget. Fails with `invalid_argument`.
Result<uint64_t> parse_size(const std::string& text);

} // namespace hearth::cli
