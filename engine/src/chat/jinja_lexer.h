// Jinja lexer: template text and tag tokens, with the whitespace rules of Hugging Face's
// environment (trim_blocks, lstrip_blocks, `-`/`+` markers, one trailing newline dropped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

enum class Tok : uint8_t {
    text,        // template data between tags
    var_begin,   // {{
    var_end,     // }}
    block_begin, // {%
    block_end,   // %}
    name,
    string,
    integer,
    floating,
    op, // operators and punctuation: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } . : | ,
    eof,
};

struct Token {
    Tok type = Tok::eof;
    std::string value;     // text, name, decoded string, operator
    int64_t int_value = 0; // saturated past 64 bits; `value` holds the digits
    double float_value = 0;
    int line = 1;
    int column = 1;
};

// A lexing or parsing failure, located in the template source.
struct SyntaxError {
    std::string message;
    int line = 1;
    int column = 1;
};

// Splits `source` into tokens. Throws SyntaxError on an unterminated tag, string or comment.
std::vector<Token> tokenize(std::string_view source);

const char* token_description(Tok type);

} // namespace hearth::jinja
