// One fuzz input through the whole chat-template API (see template_fuzz_input.h).
#include "template_fuzz_input.h"

#include "fuzz_outcome.h"
#include "hearth/chat_template.h"
#include "hearth/json_input.h"

#include <algorithm>
#include <vector>

namespace hearth::fuzz {

namespace {

// JSON nested deeper than this is not passed on: nlohmann's copy and comparison recurse, and
// the variables are the caller's own data, not what a downloaded template controls.
constexpr size_t kMaxJsonDepth = 64;

using Json = nlohmann::ordered_json;

// A conversation with what templates trip over: a system turn, Unicode, Jinja-looking text,
// surrounding whitespace, a reasoning field, a tool call and a tool reply.
Json rich_messages(const std::string& user_text) {
    Json tool_call = {{"type", "function"},
                      {"function", {{"name", "get_time"}, {"arguments", {{"tz", "UTC"}}}}}};
    return Json::array({
        {{"role", "system"}, {"content", "  Be brief.\n"}},
        {{"role", "user"}, {"content", user_text}},
        {{"role", "assistant"},
         {"content", "Héllo {{ x }} {% if %} 👋"},
         {"reasoning_content", "think"},
         {"tool_calls", Json::array({tool_call})}},
        {{"role", "tool"}, {"name", "get_time"}, {"content", "10:30"}},
        {{"role", "user"}, {"content", Json::array({{{"type", "text"}, {"text", "and now?"}}})}},
    });
}

} // namespace

std::string run_template_input(std::string_view data) {
    std::string_view source = data;
    std::string_view vars_text;
    bool have_vars = false;
    if (size_t nul = data.find('\0'); nul != std::string_view::npos) {
        source = data.substr(0, nul);
        vars_text = data.substr(nul + 1);
        have_vars = true;
    }
    Json vars = Json::object();
    std::string user_text = "Hi! <|im_end|> {{ 1 }}";
    if (have_vars) {
        auto parsed = parse_json_input(vars_text, "variables", {.max_depth = kMaxJsonDepth});
        if (parsed && parsed->is_object()) {
            vars = std::move(*parsed);
        } else {
            user_text = std::string(vars_text);
        }
    }

    std::string out;
    // What the app does with a model's embedded template before rendering it.
    std::vector<std::string> tokens = template_special_tokens(source);
    out += "special tokens: " + std::to_string(tokens.size()) + "\n";
    std::vector<std::string> vocabulary;
    for (size_t i = 0; i < tokens.size(); i += 2) {
        vocabulary.push_back(tokens[i]);
    }
    TemplateChoice by_list = choose_template({}, vocabulary);
    TemplateChoice by_lookup = choose_template(source, [&](std::string_view t) {
        return std::find(vocabulary.begin(), vocabulary.end(), t) != vocabulary.end();
    });
    out += "choice: " + by_list.name + ", " + by_lookup.name + "\n";
    ModelTemplateFacts facts;
    facts.name = source.size() % 2 ? "Fuzz-Base" : "Fuzz-Instruct";
    facts.embedded_template = std::string(source);
    facts.has_token = [&](std::string_view t) {
        return std::find(vocabulary.begin(), vocabulary.end(), t) != vocabulary.end();
    };
    for (bool is_raw : {false, true}) {
        for (const TemplateWarning& w : template_warnings(facts, source, is_raw)) {
            out += "warning: " + w.message + "\n";
        }
    }
    if (find_builtin_template(by_list.name) == nullptr && by_list.name != "raw") {
        out += "choice names no built-in\n";
    }

    Result<ChatTemplate> parsed = ChatTemplate::parse(source);
    if (!parsed) {
        out += "parse: " + describe_error(parsed.error()) + "\n";
        return out;
    }
    const ChatTemplate& tmpl = *parsed;
    out += "parse: ok\n";
    if (tmpl.source() != source) {
        out += "source() differs from the parsed text\n";
    }

    // 1. A plain system + user conversation with a generation prompt (the span entry).
    ChatRenderOptions chat;
    chat.render = fuzz_render_options();
    chat.bos_token = "<s>";
    chat.eos_token = "</s>";
    const ChatMessage plain[] = {{"system", "You are helpful."}, {"user", user_text}};
    out += "render span: " + describe(tmpl.render(plain, chat)) + "\n";

    // 2. Several turns ending with the assistant, tools given, no generation prompt, and the
    //    input's variables as extra keyword variables (the messages entry).
    chat.add_generation_prompt = false;
    chat.tools = fuzz_tools();
    chat.extra = vars;
    Json messages = rich_messages(user_text);
    if (auto it = vars.find("messages"); it != vars.end()) {
        messages = *it;
    }
    out += "render messages: " + describe(tmpl.render_messages(messages, chat)) + "\n";

    // 3. The input's variables exactly as given, with messages only when they name none
    //    (the raw context entry).
    Json context = vars;
    if (!context.contains("messages")) {
        context["messages"] = rich_messages(user_text);
    }
    out += "render context: " + describe(tmpl.render(context, fuzz_render_options())) + "\n";
    return out;
}

} // namespace hearth::fuzz
