// A small command-line parser for hearth-cli's subcommands: options, flags and positionals.
#pragma once

#include "hearth/error.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hearth::cli {

// What a subcommand accepts: options that take a value (`--ctx 4096`, `--ctx=4096`;
// repeatable ones keep every value) and flags that do not (`--json`).
struct ArgSpec {
    std::set<std::string> options;
    std::set<std::string> flags;
    std::set<std::string> repeatable; // subset of options that may be given more than once
    std::map<std::string, std::string> short_names; // "-p" -> "--prompt"
};

struct Args {
    std::vector<std::string> positionals;
    std::map<std::string, std::vector<std::string>> options;
    std::set<std::string> flags;

    bool has(const std::string& flag) const { return flags.contains(flag); }
    std::optional<std::string> get(const std::string& option) const;
    const std::vector<std::string>& all(const std::string& option) const;
    // Integer and float options; fail with a message naming the option.
    Result<std::optional<long long>> get_int(const std::string& option) const;
    Result<std::optional<double>> get_float(const std::string& option) const;
};

// Parses argv[first..argc). "--" ends options.
Result<Args> parse_args(int argc, char** argv, int first, const ArgSpec& spec);

} // namespace hearth::cli
