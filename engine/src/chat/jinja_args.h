// Argument binding for built-in filters, tests, methods and globals: Python's
// positional-or-keyword parameters with defaults.
#pragma once

#include "chat/jinja_value.h"

#include <string>
#include <string_view>

namespace hearth::jinja {

class Args {
public:
    Args(CallArgs& args, std::string_view function) : args_(args), function_(function) {}

    // The argument at `index` (counting after the input value) or named `name`, else an
    // Undefined that fails, if used, with Python's message for a missing argument (not with
    // an empty one: `{{ 5 is divisibleby }}`).
    Value get(size_t index, std::string_view name) const {
        if (const Value* v = find(index, name)) {
            return *v;
        }
        return Value::undefined(std::string(function_) +
                                "() missing 1 required positional argument: '" + std::string(name) +
                                "'");
    }
    // The argument at `index` or named `name`, else `fallback`.
    Value get(size_t index, std::string_view name, Value fallback) const {
        const Value* v = find(index, name);
        return v ? *v : fallback;
    }

    size_t positional_count() const { return args_.positional.size(); }
    CallArgs& raw() { return args_; }

    std::string string(size_t index, std::string_view name, std::string fallback = {}) const {
        Value v = get(index, name);
        if (v.is_undefined() || v.is_none()) {
            return fallback;
        }
        return v.str();
    }

    int64_t integer(size_t index, std::string_view name, int64_t fallback) const {
        Value v = get(index, name);
        if (v.is_undefined()) {
            return fallback;
        }
        if (!(v.is_int() || v.is_bool())) {
            raise("TypeError", std::string(function_) + "(): '" + std::string(name) +
                                   "' must be an integer, not " + v.type_name());
        }
        return v.as_int();
    }

    bool boolean(size_t index, std::string_view name, bool fallback) const {
        Value v = get(index, name);
        return v.is_undefined() ? fallback : v.truthy();
    }

private:
    const Value* find(size_t index, std::string_view name) const {
        if (index < args_.positional.size()) {
            return &args_.positional[index];
        }
        for (const auto& [k, v] : args_.keywords) {
            if (k == name) {
                return &v;
            }
        }
        return nullptr;
    }

    CallArgs& args_;
    std::string_view function_;
};

} // namespace hearth::jinja
