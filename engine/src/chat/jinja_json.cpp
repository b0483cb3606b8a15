// json.dumps as Hugging Face's tojson calls it: ensure_ascii=False by default, indent,
// separators, sort_keys; Python's float repr; key order kept.
#include "chat/jinja_interp.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hearth::jinja {

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
    charge_bytes(s.size());
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        char ch = s[i];
        auto c = static_cast<unsigned char>(ch);
        if (ensure_ascii && c >= 0x80) {
            size_t at = i;
            uint32_t cp = utf8_decode(s, at);
            i = at - 1;
            char buf[16];
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                              0xDC00 + (cp & 0x3FF));
            } else {
                std::snprintf(buf, sizeof buf, "\\u%04x", cp);
            }
            out += buf;
            continue;
        }
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    out += '"';
}

struct JsonWriter {
    int indent;
    std::string_view indent_str;
    std::string_view item_sep;
    std::string_view key_sep;
    bool sort_keys;
    bool ensure_ascii;
    std::string out;

    void newline(int level) {
        if (indent < 0) {
            return;
        }
        // Checked before it is written: a wide indent times a deep level is a lot of text.
        const size_t bytes = 1 + indent_str.size() * static_cast<size_t>(level);
        charge_copy(bytes);
        check_text_size(out.size() + bytes);
        out += '\n';
        for (int i = 0; i < level; ++i) {
            out += indent_str;
        }
    }

    static std::string key_string(const Value& key) {
        if (key.is_string()) {
            return key.as_string();
        }
        if (key.is_bool()) {
            return key.as_bool() ? "true" : "false";
        }
        if (key.is_none()) {
            return "null";
        }
        if (key.is_int() || key.is_float()) {
            return key.str();
        }
        raise("TypeError", "keys must be str, int, float, bool or None, not " + key.type_name());
    }

    void write(const Value& v, int level) {
        switch (v.kind()) {
        case Kind::none:
            out += "null";
            return;
        case Kind::boolean:
            out += v.as_bool() ? "true" : "false";
            return;
        case Kind::integer:
            v.append_repr(out); // exact, past 64 bits too
            return;
        case Kind::floating: {
            double f = v.as_double();
            out += std::isnan(f)   ? "NaN"
                   : std::isinf(f) ? (f < 0 ? "-Infinity" : "Infinity")
                                   : format_float(f);
            return;
        }
        case Kind::string:
            append_json_string(out, v.as_string(), ensure_ascii);
            return;
        case Kind::list: {
            const auto& items = v.as_list().items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            NestingGuard guard(" while encoding a JSON object");
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) {
                    out += item_sep;
                }
                newline(level + 1);
                charge_items(1);
                write(items[i], level + 1);
                check_text_size(out);
            }
            newline(level);
            out += ']';
            return;
        }
        case Kind::dict:
            if (!v.is_namespace()) {
                write_dict(v.as_dict(), level);
                return;
            }
            break;
        default:
            break;
        }
        std::string type = v.is_undefined()   ? "Undefined"
                           : v.is_namespace() ? "Namespace"
                           : v.kind() == Kind::loop
                               ? "LoopContext"
                               : (v.as_callable().is_macro ? "Macro" : "function");
        raise("TypeError", "Object of type " + type + " is not JSON serializable");
    }

    void write_dict(const DictObj& d, int level) {
        if (d.items.empty()) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        entries.reserve(d.items.size());
        for (const auto& [k, item] : d.items) {
            entries.emplace_back(key_string(k), &item);
        }
        if (sort_keys) {
            std::stable_sort(entries.begin(), entries.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        NestingGuard guard(" while encoding a JSON object");
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
            if (i) {
                out += item_sep;
            }
            newline(level + 1);
            charge_items(1);
            append_json_string(out, entries[i].first, ensure_ascii);
            out += key_sep;
            write(*entries[i].second, level + 1);
            check_text_size(out);
        }
        newline(level);
        out += '}';
    }
};

} // namespace

std::string Value::to_json(int indent, std::string_view indent_str, std::string_view item_sep,
                           std::string_view key_sep, bool sort_keys, bool ensure_ascii) const {
    std::string spaces(indent > 0 ? static_cast<size_t>(indent) : 0, ' ');
    JsonWriter writer{indent,
                      indent_str.empty() ? std::string_view(spaces) : indent_str,
                      item_sep.empty() ? (indent >= 0 ? "," : ", ") : item_sep,
                      key_sep.empty() ? ": " : key_sep,
                      sort_keys,
                      ensure_ascii,
                      {}};
    writer.write(*this, 0);
    return std::move(writer.out);
}

} // namespace hearth::jinja
