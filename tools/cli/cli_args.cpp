// The command-line parser and --help of hearth-cli and hearth-bench.
#include "cli_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <limits>

namespace hearth::cli {

OptionSpec OptionSpec::alias(std::string short_spelling) const {
    OptionSpec out = *this;
    out.short_name = std::move(short_spelling);
    return out;
}

OptionSpec OptionSpec::within(IntRange accepted) const {
    OptionSpec out = *this;
    out.range = accepted;
    return out;
}

OptionSpec OptionSpec::repeated() const {
    OptionSpec out = *this;
    out.repeatable = true;
    return out;
}

OptionSpec option(std::string name, std::string value, std::string help) {
    OptionSpec out;
    out.name = std::move(name);
    out.value = std::move(value);
    out.help = std::move(help);
    return out;
}

OptionSpec flag(std::string name, std::string help) {
    return option(std::move(name), "", std::move(help));
}

OptionSpec threads_option() {
    constexpr IntRange kThreads{1, 1024}; // more than any machine Hearth runs on has cores
    return option("--threads", "N",
                  fmt::format("CPU threads, {} to {} (default: one per physical core)",
                              kThreads.low, kThreads.high))
        .alias("-t")
        .within(kThreads);
}

const OptionSpec* CommandSpec::find(std::string_view option) const {
    const auto it = std::find_if(options.begin(), options.end(), [&](const OptionSpec& o) {
        return o.name == option || (!o.short_name.empty() && o.short_name == option);
    });
    return it == options.end() ? nullptr : &*it;
}

std::string CommandSpec::title() const {
    return name.empty() ? program : program + " " + name;
}

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
    const OptionSpec* declared = spec ? spec->find(option) : nullptr;
    const IntRange range = declared && declared->range
                               ? *declared->range
                               : IntRange{std::numeric_limits<long long>::min(),
                                          std::numeric_limits<long long>::max()};
    long long value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec == std::errc() && end == text->data() + text->size() && value >= range.low &&
        value <= range.high) {
        return std::optional<long long>{value};
    }
    const bool is_integer = ec == std::errc::result_out_of_range ||
                            (ec == std::errc() && end == text->data() + text->size());
    if (!is_integer) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{} expects an integer, got '{}'", option, *text));
    }
    return fail(ErrorCode::invalid_argument, fmt::format("{} must be between {} and {}, got {}",
                                                         option, range.low, range.high, *text));
}

Result<std::optional<double>> Args::get_float(const std::string& option) const {
    auto text = get(option);
    if (!text) {
        return std::optional<double>{};
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || !std::isfinite(value)) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{} expects a finite number, got '{}'", option, *text));
    }
    return std::optional<double>{value};
}

namespace {

bool is_help(std::string_view arg) {
    return arg == "-h" || arg == "--help";
}

// "-x" and "--xyz" are options; "-", "-5" and "-.5" are values (a negative number, stdin).
bool looks_like_option(std::string_view arg) {
    return arg.size() >= 2 && arg[0] == '-' && arg[1] != '.' && (arg[1] < '0' || arg[1] > '9');
}

} // namespace

Result<Args> parse_args(int argc, char** argv, const CommandSpec& spec) {
    Args args;
    args.spec = &spec;
    std::optional<Error> first_error; // reported unless --help comes later
    auto note = [&](std::string message) {
        if (!first_error) {
            first_error = Error{ErrorCode::invalid_argument, std::move(message)};
        }
    };
    bool options_done = false;
    for (int i = 0; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_done || !looks_like_option(arg)) {
            args.positionals.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (is_help(arg)) {
            args.help = true;
            continue;
        }
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
            inline_value = arg.substr(eq + 1);
            arg.resize(eq);
        }
        const OptionSpec* option = spec.find(arg);
        if (!option) {
            note("unknown option " + arg);
            continue;
        }
        if (option->value.empty()) {
            if (inline_value) {
                note(option->name + " takes no value");
            }
            args.flags.insert(option->name);
            continue;
        }
        std::string value;
        if (inline_value) {
            value = *inline_value;
        } else if (i + 1 < argc && !(looks_like_option(argv[i + 1]) &&
                                     (spec.find(argv[i + 1]) || is_help(argv[i + 1])))) {
            value = argv[++i]; // "-5" or "-x" (no option of this command) is a value
        } else {
            note(fmt::format("{} needs a value ({})", arg, option->value));
            continue;
        }
        auto& values = args.options[option->name];
        if (!values.empty() && !option->repeatable) {
            note(option->name + " given more than once");
        }
        values.push_back(std::move(value));
    }
    if (first_error && !args.help) {
        return std::unexpected(*first_error);
    }
    return args;
}

std::string format_help(const CommandSpec& spec) {
    std::string out = fmt::format("usage: {}{}{}\n{}\n", spec.title(),
                                  spec.synopsis.empty() ? "" : " ", spec.synopsis, spec.summary);
    std::vector<std::pair<std::string, std::string>> rows;
    for (const OptionSpec& option : spec.options) {
        std::string names = option.short_name.empty() ? "    " : option.short_name + ", ";
        names += option.name;
        if (!option.value.empty()) {
            names += " " + option.value;
        }
        rows.emplace_back(std::move(names), option.help);
    }
    rows.emplace_back("-h, --help", "show this help and exit");
    size_t width = 0;
    for (const auto& row : rows) {
        width = std::max(width, row.first.size());
    }
    width = std::min<size_t>(width, 30);
    out += "\noptions:\n";
    for (const auto& [names, help] : rows) {
        // A name wider than the column keeps its help on the same line, one space after it.
        out += fmt::format("  {:<{}} {}\n", names, width, help);
    }
    return out;
}

int usage_error(const CommandSpec& spec, std::string_view message) {
    std::fprintf(stderr, "%s: %.*s\n(%s --help lists the options)\n", spec.title().c_str(),
                 static_cast<int>(message.size()), message.data(), spec.title().c_str());
    return kUsageExitStatus;
}

// "4GiB", "512MiB", "1.5G", "8000000000": bytes, binary units (K/KiB ... T/TiB, B or none).
Result<uint64_t> parse_size(const std::string& text) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [unit, error] = std::from_chars(text.data(), end, value);
    std::string suffix(unit, end);
    std::erase(suffix, ' ');
    const std::pair<const char*, int> units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
                                                 {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30},
                                                 {"T", 40}, {"TiB", 40}};
    for (const auto& [name, shift] : units) {
        if (error == std::errc{} && value >= 0 && suffix == name) {
            const double bytes = value * double(1ull << shift);
            if (bytes < 1.8e19) {
                return static_cast<uint64_t>(bytes);
            }
        }
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("expected a size such as 4GiB, 512MiB or 8000000000, got '{}'", text));
}

} // namespace hearth::cli
