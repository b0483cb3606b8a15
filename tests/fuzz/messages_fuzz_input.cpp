// One fuzz input through parse_json_input and render_messages (see messages_fuzz_input.h).
#include "messages_fuzz_input.h"

#include "fuzz_outcome.h"
#include "hearth/chat_template.h"
#include "hearth/json_input.h"

#include <fstream>
#include <sstream>
#include <vector>

namespace hearth::fuzz {

namespace {

using Json = nlohmann::ordered_json;

struct NamedTemplate {
    std::string name;
    Result<ChatTemplate> parsed;
};

Result<ChatTemplate> corpus_template(const std::string& file) {
    const std::string path = std::string(HEARTH_TEMPLATE_CORPUS_DIR) + "/" + file;
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        return fail(ErrorCode::io, "cannot read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    return ChatTemplate::parse(text.str());
}

// Parsed once: every input renders with the same three templates.
const std::vector<NamedTemplate>& templates() {
    static const std::vector<NamedTemplate> list = [] {
        std::vector<NamedTemplate> out;
        const BuiltinTemplate* chatml = find_builtin_template("chatml");
        out.push_back({"chatml", chatml ? ChatTemplate::parse(chatml->source)
                                        : Result<ChatTemplate>(fail(ErrorCode::invalid_argument,
                                                                    "no built-in chatml"))});
        out.push_back({"Qwen3-Coder", corpus_template("Qwen3-Coder.jinja")});
        out.push_back({"Llama-3.2", corpus_template("meta-llama-Llama-3.2-3B-Instruct.jinja")});
        return out;
    }();
    return list;
}

} // namespace

std::string run_messages_input(std::string_view data) {
    std::string_view messages_text = data;
    std::string_view tools_text;
    const size_t nul = data.find('\0');
    if (nul != std::string_view::npos) {
        messages_text = data.substr(0, nul);
        tools_text = data.substr(nul + 1);
    }
    std::string out;
    auto messages = parse_json_input(messages_text, "the messages file");
    if (!messages) {
        return "messages: " + describe_error(messages.error()) + "\n";
    }
    out += "messages: ok\n";
    ChatRenderOptions options;
    options.render = fuzz_render_options();
    options.bos_token = "<s>";
    options.eos_token = "</s>";
    options.tools = fuzz_tools();
    if (nul != std::string_view::npos) {
        auto tools = parse_json_input(tools_text, "the tools file");
        out += "tools: " + (tools ? std::string("ok") : describe_error(tools.error())) + "\n";
        if (tools) {
            options.tools = std::move(*tools);
        }
    }
    for (const NamedTemplate& t : templates()) {
        if (!t.parsed) {
            out += t.name + ": " + describe_error(t.parsed.error()) + "\n";
            continue;
        }
        for (const bool prompt : {true, false}) {
            options.add_generation_prompt = prompt;
            out += t.name + (prompt ? " with prompt: " : ": ") +
                   describe(t.parsed->render_messages(*messages, options)) + "\n";
        }
    }
    return out;
}

} // namespace hearth::fuzz
