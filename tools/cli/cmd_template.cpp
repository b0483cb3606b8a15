// `hearth-cli template render|list`: a conversation rendered with a chat template, exactly
// as the model will see it (stdout holds the prompt text and nothing else), and the list of
// built-in templates.
#include "cli_args.h"
#include "commands.h"
#include "hearth/chat_template.h"
#include "hearth/file_input.h"
#include "hearth/gguf.h"
#include "hearth/json_input.h"

#include <cstdio>
#include <string>

namespace hearth::cli {
namespace {

// A template, messages or tools file: a regular file (a FIFO never blocks the read), at most
// as large as a JSON input may be (hearth/json_input.h).
Result<std::string> read_file(const std::string& path) {
    return read_file_input(path, "the file", JsonLimits{}.max_bytes);
}

Result<nlohmann::ordered_json> read_json(const std::string& path) {
    auto text = read_file(path);
    if (!text) {
        return std::unexpected(text.error());
    }
    return parse_json_input(*text, path);
}

struct TemplateSource {
    std::string text;
    std::string bos_token;
    std::string eos_token;
};

// The model's own template and its BOS/EOS strings; a built-in chosen from the vocabulary
// when the model has no template.
Result<TemplateSource> from_model(const std::string& path) {
    auto file = GgufFile::open(path);
    if (!file) {
        return std::unexpected(file.error());
    }
    TemplateSource out;
    std::vector<std::string> vocabulary;
    if (const GgufValue* tokens = file->find("tokenizer.ggml.tokens")) {
        if (const GgufArray* items = tokens->as_array()) {
            vocabulary.reserve(items->size());
            for (size_t i = 0; i < items->size(); ++i) {
                vocabulary.emplace_back(items->string_at(i).value_or(""));
            }
        }
    }
    auto token_string = [&](const char* key) -> std::string {
        auto id = file->header().get_int(key);
        if (!id || *id < 0 || static_cast<size_t>(*id) >= vocabulary.size()) {
            return {};
        }
        return vocabulary[static_cast<size_t>(*id)];
    };
    out.bos_token = token_string("tokenizer.ggml.bos_token_id");
    out.eos_token = token_string("tokenizer.ggml.eos_token_id");
    std::string embedded = file->header().get_string("tokenizer.chat_template").value_or("");
    out.text = choose_template(embedded, vocabulary).source;
    return out;
}

int list() {
    for (const auto& t : builtin_templates()) {
        std::printf("%-10s %s%s\n", t.name.c_str(), t.description.c_str(),
                    t.supports_system ? "" : " [no system message]");
    }
    return 0;
}

int render(const Args& args) {
    const int sources = int(args.get("--model").has_value()) +
                        int(args.get("--template").has_value()) +
                        int(args.get("--template-file").has_value());
    if (sources != 1 || !args.get("--messages") || !args.positionals.empty()) {
        return usage_error(*args.spec, "expects one of --model, --template and --template-file, "
                                       "and --messages FILE.json");
    }

    TemplateSource source;
    if (auto model = args.get("--model")) {
        auto loaded = from_model(*model);
        if (!loaded) {
            return report_error(loaded.error().message.c_str());
        }
        source = std::move(*loaded);
    } else if (auto name = args.get("--template")) {
        const BuiltinTemplate* builtin = find_builtin_template(*name);
        if (!builtin) {
            return report_error(
                ("no built-in template named '" + *name + "' (hearth-cli template list shows them)")
                    .c_str());
        }
        source = {builtin->source, builtin->bos_token, builtin->eos_token};
    } else {
        auto text = read_file(*args.get("--template-file"));
        if (!text) {
            return report_error(text.error().message.c_str());
        }
        source.text = std::move(*text);
    }

    ChatRenderOptions options;
    options.add_generation_prompt = args.has("--add-generation-prompt");
    options.bos_token = args.get("--bos-token").value_or(source.bos_token);
    options.eos_token = args.get("--eos-token").value_or(source.eos_token);
    auto messages = read_json(*args.get("--messages"));
    if (!messages) {
        return report_error(messages.error().message.c_str());
    }
    if (auto tools = args.get("--tools")) {
        auto json = read_json(*tools);
        if (!json) {
            return report_error(json.error().message.c_str());
        }
        options.tools = std::move(*json);
    }
    for (const std::string& var : args.all("--var")) {
        const size_t eq = var.find('=');
        if (eq == std::string::npos || eq == 0) {
            return report_error(("--var wants NAME=JSON, got '" + var + "'").c_str());
        }
        const std::string name = var.substr(0, eq);
        auto value = parse_json_input(std::string_view(var).substr(eq + 1), "--var " + name);
        if (!value) {
            return report_error(value.error().message.c_str());
        }
        options.extra[name] = std::move(*value);
    }

    auto chat_template = ChatTemplate::parse(source.text);
    if (!chat_template) {
        return report_error(chat_template.error().message.c_str());
    }
    auto text = chat_template->render_messages(*messages, options);
    if (!text) {
        return report_error(text.error().message.c_str());
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    return 0;
}

} // namespace

int cmd_template_list(const Args& args) {
    if (!args.positionals.empty()) {
        return usage_error(*args.spec, "takes no arguments");
    }
    return list();
}

int cmd_template_render(const Args& args) {
    return render(args);
}

} // namespace hearth::cli
