// Attribute and item lookup as jinja2's sandboxed getattr/getitem do it (attribute first
// for `x.y`, item first for `x[y]`, Undefined with jinja2's message when both miss), the
// `loop` variable's attributes, and iteration over values.
#include "chat/jinja_interp.h"

namespace hearth::jinja {

namespace {

Value loop_attribute(const Value& loop, const std::string& name) {
    LoopState& s = loop.as_loop();
    size_t n = s.items.size();
    if (name == "index")
        return Value(static_cast<int64_t>(s.index0 + 1));
    if (name == "index0")
        return Value(static_cast<int64_t>(s.index0));
    if (name == "revindex")
        return Value(static_cast<int64_t>(n - s.index0));
    if (name == "revindex0")
        return Value(static_cast<int64_t>(n - s.index0 - 1));
    if (name == "first")
        return Value(s.index0 == 0);
    if (name == "last")
        return Value(s.index0 + 1 == n);
    if (name == "length")
        return Value(static_cast<int64_t>(n));
    if (name == "depth")
        return Value(static_cast<int64_t>(s.depth0 + 1));
    if (name == "depth0")
        return Value(static_cast<int64_t>(s.depth0));
    if (name == "previtem") {
        return s.index0 > 0 ? s.items[s.index0 - 1] : Value::undefined("there is no previous item");
    }
    if (name == "nextitem") {
        return s.index0 + 1 < n ? s.items[s.index0 + 1] : Value::undefined("there is no next item");
    }
    if (name == "cycle") {
        return Value::callable("cycle", [loop](Interpreter&, CallArgs& args) {
            if (args.positional.empty()) {
                raise("TypeError", "no items for cycling given");
            }
            return args.positional[loop.as_loop().index0 % args.positional.size()];
        });
    }
    if (name == "changed") {
        return Value::callable("changed", [loop](Interpreter&, CallArgs& args) {
            LoopState& st = loop.as_loop();
            Value current = Value::list(args.positional);
            if (!st.have_changed || !st.last_changed.equals(current)) {
                st.have_changed = true;
                st.last_changed = current;
                return Value(true);
            }
            return Value(false);
        });
    }
    return Value::undefined("'jinja2.runtime.LoopContext object' has no attribute '" + name + "'");
}

} // namespace

Value Interpreter::get_attr(const Value& object, const std::string& name, bool dict_items) {
    switch (object.kind()) {
    case Kind::undefined:
        object.require_defined();
        break;
    case Kind::loop:
        return loop_attribute(object, name);
    case Kind::dict:
        if (!object.is_namespace()) {
            if (auto method = find_method(object, name)) {
                return *method;
            }
        }
        if (dict_items || object.is_namespace()) {
            if (const Value* v = object.as_dict().find(std::string_view(name))) {
                return *v;
            }
        }
        break;
    case Kind::string:
    case Kind::list:
        if (auto method = find_method(object, name)) {
            return *method;
        }
        break;
    default:
        break;
    }
    std::string type = object.object_type_repr();
    if (object.is_namespace()) {
        type = "transformers.utils.chat_template_utils.TemplateNamespace object";
    }
    return Value::undefined((object.is_none() ? "'None'" : "'" + type + "'") +
                            " has no attribute '" + name + "'");
}

Value Interpreter::get_item(const Value& object, const Value& key) {
    object.require_defined();
    if (object.is_dict() && !object.is_namespace()) {
        if (const Value* v = object.as_dict().find(key)) {
            return *v;
        }
    } else if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
        int64_t i = key.as_int();
        if (object.is_list()) {
            const auto& items = object.as_list().items;
            int64_t n = static_cast<int64_t>(items.size());
            if (i < 0) {
                i += n;
            }
            if (i >= 0 && i < n) {
                return items[static_cast<size_t>(i)];
            }
        } else {
            auto chars = utf8_chars(object.as_string());
            int64_t n = static_cast<int64_t>(chars.size());
            if (i < 0) {
                i += n;
            }
            if (i >= 0 && i < n) {
                return Value(chars[static_cast<size_t>(i)]);
            }
        }
    } else if (object.kind() == Kind::loop && key.is_string()) {
        return get_attr(object, key.as_string());
    }
    if (key.is_string()) {
        // jinja2 falls back to the attribute: d['items'] is the method when there is no key.
        return get_attr(object, key.as_string());
    }
    return Value::undefined((object.is_none() ? "None" : object.object_type_repr()) +
                            " has no element " + key.repr());
}

// Copies the items, each charged (a string's characters each become a value).
std::vector<Value> Interpreter::iterate(const Value& value) {
    switch (value.kind()) {
    case Kind::undefined:
        return {};
    case Kind::list:
        charge_items(value.as_list().items.size());
        return value.as_list().items;
    case Kind::dict:
        if (!value.is_namespace()) {
            charge_items(value.as_dict().items.size());
            std::vector<Value> keys;
            keys.reserve(value.as_dict().items.size());
            for (const auto& [k, v] : value.as_dict().items) {
                keys.push_back(k);
            }
            return keys;
        }
        break;
    case Kind::string: {
        const auto parts = utf8_chars(value.as_string());
        charge_items(parts.size());
        std::vector<Value> chars;
        chars.reserve(parts.size());
        for (auto ch : parts) {
            chars.emplace_back(ch);
        }
        return chars;
    }
    default:
        break;
    }
    raise("TypeError", "'" + value.type_name() + "' object is not iterable");
}

} // namespace hearth::jinja
