// ChatTemplate: the public face of the Jinja interpreter. Internals throw SyntaxError and
// JinjaError; every one is caught here and returned as an Error value.
#include "hearth/chat_template.h"

#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"
#include "hearth/json_input.h"

#include <new>

namespace hearth {

struct ChatTemplate::Impl {
    std::string source;
    jinja::Body body;
};

Result<ChatTemplate> ChatTemplate::parse(std::string_view source, const ParseLimits& limits) {
    try {
        auto impl = std::make_shared<Impl>();
        impl->source = std::string(source);
        jinja::ParseOptions options;
        options.is_filter = jinja::has_filter;
        options.is_test = jinja::has_test;
        options.max_source_bytes = limits.max_source_bytes;
        options.max_depth = limits.max_depth;
        options.max_nodes = limits.max_nodes;
        impl->body = jinja::parse_template(impl->source, options);
        return ChatTemplate(std::move(impl));
    } catch (const jinja::SyntaxError& e) {
        return fail(ErrorCode::bad_format, "template syntax error at line " +
                                               std::to_string(e.line) + ", column " +
                                               std::to_string(e.column) + ": " + e.message);
    } catch (const std::bad_alloc&) {
        return fail(ErrorCode::out_of_memory, "out of memory while parsing the template");
    }
}

const std::string& ChatTemplate::source() const {
    return impl_->source;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context,
                                         const RenderOptions& options) const {
    if (!context.is_object()) {
        return fail(ErrorCode::invalid_argument, "template variables must be a JSON object");
    }
    try {
        jinja::Limits limits{options.limits.max_depth, options.limits.max_output_bytes,
                             options.limits.max_work};
        jinja::Interpreter interpreter(limits, options.now_unix);
        return interpreter.render(
            impl_->body, jinja::Value::from_json(context, options.limits.max_variable_depth));
    } catch (const jinja::JinjaError& e) {
        return fail(ErrorCode::bad_format, e.message);
    } catch (const std::bad_alloc&) {
        return fail(ErrorCode::out_of_memory, "out of memory while rendering the template");
    } catch (const std::exception& e) {
        return fail(ErrorCode::bad_format, std::string("template rendering failed: ") + e.what());
    }
}

namespace {

// transformers' _alias_reasoning_fields: a message's reasoning, under whichever name it
// came, is also passed as `thinking` (first) and `reasoning_content`, the names templates read.
nlohmann::ordered_json alias_reasoning_fields(const nlohmann::ordered_json& messages) {
    if (!messages.is_array()) {
        return messages;
    }
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& message : messages) {
        const nlohmann::ordered_json* reasoning = nullptr;
        if (message.is_object()) {
            for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
                auto it = message.find(key);
                if (it != message.end() && !it->is_null()) {
                    reasoning = &*it;
                    break;
                }
            }
        }
        if (!reasoning) {
            out.push_back(message);
            continue;
        }
        nlohmann::ordered_json aliased = nlohmann::ordered_json::object();
        aliased["thinking"] = *reasoning;
        for (const auto& [key, value] : message.items()) {
            aliased[key] = value;
        }
        aliased["reasoning_content"] = *reasoning;
        out.push_back(std::move(aliased));
    }
    return out;
}

// Checked before the variables are copied into the context: nlohmann copies recursively.
Result<void> check_variable_depth(const nlohmann::ordered_json& value, const std::string& what,
                                  size_t limit) {
    if (const size_t depth = json_value_depth(value); depth > limit) {
        return fail(ErrorCode::bad_format, what + " nest arrays and objects " +
                                               std::to_string(depth) + " deep, over the limit of " +
                                               std::to_string(limit) + " for template variables");
    }
    return {};
}

} // namespace

Result<std::string> ChatTemplate::render_messages(const nlohmann::ordered_json& messages,
                                                  const ChatRenderOptions& options) const {
    const size_t depth_limit = options.render.limits.max_variable_depth;
    auto checked = check_variable_depth(messages, "the messages", depth_limit);
    if (checked) {
        checked = check_variable_depth(options.tools, "the tools", depth_limit);
    }
    if (checked && options.extra.is_object()) {
        for (const auto& [key, value] : options.extra.items()) {
            if (checked) {
                checked = check_variable_depth(value, "the variable '" + key + "'", depth_limit);
            }
        }
    }
    if (!checked) {
        return std::unexpected(checked.error());
    }
    // The variables in the order render_jinja_template passes them (order matters only for
    // templates that iterate over their context, which none can).
    nlohmann::ordered_json context = nlohmann::ordered_json::object();
    context["messages"] = alias_reasoning_fields(messages);
    context["tools"] = options.tools;
    context["documents"] = nullptr;
    context["add_generation_prompt"] = options.add_generation_prompt;
    context["bos_token"] = options.bos_token;
    context["eos_token"] = options.eos_token;
    if (options.extra.is_object()) {
        for (const auto& [key, value] : options.extra.items()) {
            context[key] = value;
        }
    }
    return render(context, options.render);
}

Result<std::string> ChatTemplate::render(std::span<const ChatMessage> messages,
                                         const ChatRenderOptions& options) const {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
        list.push_back({{"role", m.role}, {"content", m.content}});
        if (!m.reasoning.empty()) {
            list.back()["reasoning_content"] = m.reasoning;
        }
    }
    return render_messages(list, options);
}

} // namespace hearth
