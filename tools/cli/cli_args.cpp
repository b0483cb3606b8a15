// hearth-cli's argument parser.
#include "cli_args.h"

#include <charconv>
#include <cstdlib>

namespace hearth::cli {

std::optional<std::string> Args::get(const std::string& option) const {
    auto it = options.find(option);
    if (it == options.end() || it->second.empty()) {
        return std::nullopt;
    }
    return it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& option) const {
    static const std::vector<std::string> empty;
    auto it = options.find(option);
    return it == options.end() ? empty : it->second;
}

Result<std::optional<long long>> Args::get_int(const std::string& option) const {
    auto text = get(option);
    if (!text) {
        return std::optional<long long>{};
    }
    long long value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size()) {
        return fail(ErrorCode::invalid_argument,
                    option + " expects an integer, got '" + *text + "'");
    }
    return std::optional<long long>{value};
}

Result<std::optional<double>> Args::get_float(const std::string& option) const {
    auto text = get(option);
    if (!text) {
        return std::optional<double>{};
    }
    char* end = nullptr;
    double value = std::strtod(text->c_str(), &end);
    if (text->empty() || end != text->c_str() + text->size()) {
        return fail(ErrorCode::invalid_argument, option + " expects a number, got '" + *text + "'");
    }
    return std::optional<double>{value};
}

Result<Args> parse_args(int argc, char** argv, int first, const ArgSpec& spec) {
    Args args;
    bool options_done = false;
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_done || arg.size() < 2 || arg[0] != '-' ||
            (arg[1] != '-' && !spec.short_names.contains(arg))) {
            args.positionals.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (auto it = spec.short_names.find(arg); it != spec.short_names.end()) {
            arg = it->second;
        }
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            inline_value = arg.substr(eq + 1);
            arg.resize(eq);
        }
        if (spec.flags.contains(arg)) {
            if (inline_value) {
                return fail(ErrorCode::invalid_argument, arg + " takes no value");
            }
            args.flags.insert(arg);
        } else if (spec.options.contains(arg)) {
            std::string value;
            if (inline_value) {
                value = *inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                return fail(ErrorCode::invalid_argument, arg + " needs a value");
            }
            auto& values = args.options[arg];
            if (!values.empty() && !spec.repeatable.contains(arg)) {
                return fail(ErrorCode::invalid_argument, arg + " given more than once");
            }
            values.push_back(std::move(value));
        } else {
            return fail(ErrorCode::invalid_argument, "unknown option " + arg);
        }
    }
    return args;
}

} // namespace hearth::cli
