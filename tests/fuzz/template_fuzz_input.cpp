// One fuzz input through the whole chat-template API (see template_fuzz_input.h).
#include "template_fuzz_input.h"

#include "hearth/chat_template.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace hearth::fuzz {

namespace {

constexpr int64_t kFrozenNow = 1736937045; // 2025-01-15 10:30:45 UTC: renders are reproducible

// JSON nested deeper than this is not passed on: nlohmann's copy and comparison recurse, and
// the variables are the caller's own data, not what a downloaded template controls.
constexpr int kMaxJsonDepth = 64;

// The default depth bound (stack overflow is what it guards against, and the fuzzer must see
// it as the app does), with smaller output and iteration bounds than the app's so that one
// input runs in milliseconds: the work of a render grows with both, and libFuzzer needs many
// runs per second to explore. At 100,000 iterations the three renders of one input could
// take 6 s under the sanitizers on a busy machine (timeout-nested-list-loop.input): bounded
// work, but past the 5 s that counts as a hang.
RenderOptions fuzz_render_options() {
    RenderOptions options;
    options.limits.max_output_bytes = 1u << 20;
    options.limits.max_loop_iterations = 20'000;
    options.now_unix = kFrozenNow;
    return options;
}

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// FNV-1a: a stable digest of a rendered text, so that recorded outcomes stay small.
uint64_t fnv1a(std::string_view text) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : text) {
        h = (h ^ c) * 0x100000001b3ull;
    }
    return h;
}

std::string describe(const Result<std::string>& result) {
    if (!result) {
        return std::string("error (") + error_code_name(result.error().code) +
               "): " + result.error().message;
    }
    return "ok, " + std::to_string(result->size()) + " bytes, fnv1a " + hex64(fnv1a(*result));
}

// Nesting depth of brackets outside strings: an upper bound of the parsed JSON's depth.
int json_depth(std::string_view text) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

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

Json tools_list() {
    return Json::array({{{"type", "function"},
                         {"function",
                          {{"name", "get_time"},
                           {"description", "The time now"},
                           {"parameters",
                            {{"type", "object"},
                             {"properties", {{"tz", {{"type", "string"}}}}},
                             {"required", Json::array({"tz"})}}}}}}});
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
        Json parsed = json_depth(vars_text) <= kMaxJsonDepth
                          ? Json::parse(vars_text.begin(), vars_text.end(), nullptr, false)
                          : Json(Json::value_t::discarded);
        if (parsed.is_object()) {
            vars = std::move(parsed);
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
        out += "parse: " + describe(std::unexpected(parsed.error())) + "\n";
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
    chat.tools = tools_list();
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
