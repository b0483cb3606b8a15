// Jinja parser: tokens to a syntax tree, following jinja2.parser's grammar and precedence.
#pragma once

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

#include <functional>
#include <string_view>

namespace hearth::jinja {

struct ParseOptions {
    // Whether a filter or test name exists. jinja2 rejects an unknown one when compiling,
    // except inside an `if` (statement or expression), where it fails only when evaluated.
    std::function<bool(std::string_view)> is_filter;
    std::function<bool(std::string_view)> is_test;
    // docs/LIMITS.md, "Chat templates (Jinja)"; hearth::ParseLimits gives the defaults.
    size_t max_source_bytes = 1u << 20; // the template text
    size_t max_depth = 256;             // nesting of blocks and expressions, and operator chains
    size_t max_nodes = 100'000;         // statements and expressions in the tree
};

// Parses a whole template. Throws SyntaxError with the location of the problem, or at a
// limit, with the limit.
Body parse_template(std::string_view source, const ParseOptions& options);

} // namespace hearth::jinja
