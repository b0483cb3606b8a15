// Jinja lexer. Whitespace handling follows jinja2.lexer.Lexer.tokeniter: `{%-`/`-%}` strip all
// whitespace on that side, lstrip_blocks strips spaces before a block or comment tag that starts
// its line, trim_blocks drops the newline after a block or comment tag, `+` disables either.
#include "chat/jinja_lexer.h"

#include "chat/jinja_utf8.h"
#include "chat/jinja_value.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace hearth::jinja {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
public:
    explicit Lexer(std::string_view source) {
        // As jinja2: every newline style becomes "\n", and one trailing newline is dropped.
        src_.reserve(source.size());
        for (size_t i = 0; i < source.size(); ++i) {
            if (source[i] == '\r') {
                if (i + 1 < source.size() && source[i + 1] == '\n') {
                    ++i;
                }
                src_ += '\n';
            } else {
                src_ += source[i];
            }
        }
        if (!src_.empty() && src_.back() == '\n') {
            src_.pop_back();
        }
        line_starts_.push_back(0);
        for (size_t i = 0; i < src_.size(); ++i) {
            if (src_[i] == '\n') {
                line_starts_.push_back(i + 1);
            }
        }
    }

    std::vector<Token> run() {
        bool line_starting = true; // the previous token ended a line (or this is the start)
        bool strip_next = false;   // the previous tag ended with `-`
        while (pos_ < src_.size()) {
            size_t tag = find_tag(pos_);
            std::string text = src_.substr(pos_, tag - pos_);
            size_t text_pos = pos_;
            if (strip_next) {
                size_t k = 0;
                while (k < text.size() && is_space(text[k])) {
                    ++k;
                }
                text.erase(0, k);
                text_pos += k;
                strip_next = false;
            }
            if (tag < src_.size()) {
                char kind = src_[tag + 1];
                char marker = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
                if (marker == '-') {
                    while (!text.empty() && is_space(text.back())) {
                        text.pop_back();
                    }
                } else if (marker != '+' && (kind == '%' || kind == '#')) {
                    size_t l_pos = text.rfind('\n');
                    l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                    if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
                        std::all_of(text.begin() + static_cast<long>(l_pos), text.end(),
                                    [](char c) { return is_space(c); })) {
                        text.erase(l_pos);
                    }
                }
            }
            if (!text.empty()) {
                emit(Tok::text, std::move(text), text_pos);
            }
            if (tag >= src_.size()) {
                break;
            }
            pos_ = tag;
            char kind = src_[tag + 1];
            if (kind == '#') {
                lex_comment(strip_next);
            } else if (kind == '{') {
                lex_tag(Tok::var_begin, strip_next);
            } else {
                lex_tag(Tok::block_begin, strip_next);
            }
            line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
        }
        emit(Tok::eof, {}, src_.size());
        return std::move(tokens_);
    }

private:
    std::string src_;
    size_t pos_ = 0;
    std::vector<size_t> line_starts_;
    std::vector<Token> tokens_;

    [[noreturn]] void fail(std::string message, size_t at) const {
        auto [line, column] = location(at);
        throw SyntaxError{std::move(message), line, column};
    }

    std::pair<int, int> location(size_t at) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at);
        size_t line = static_cast<size_t>(it - line_starts_.begin());
        return {static_cast<int>(line), static_cast<int>(at - line_starts_[line - 1] + 1)};
    }

    Token& emit(Tok type, std::string value, size_t at) {
        Token token;
        token.type = type;
        token.value = std::move(value);
        auto [line, column] = location(at);
        token.line = line;
        token.column = column;
        tokens_.push_back(std::move(token));
        return tokens_.back();
    }

    size_t find_tag(size_t from) const {
        for (size_t i = from; i + 1 < src_.size(); ++i) {
            if (src_[i] == '{' &&
                (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
                return i;
            }
        }
        return src_.size();
    }

    bool at(std::string_view s) const { return src_.compare(pos_, s.size(), s) == 0; }

    // After a block or comment end: trim_blocks drops one newline unless `+` was given.
    void finish_block(bool plus, bool minus, bool& strip_next) {
        if (minus) {
            strip_next = true;
        } else if (!plus && pos_ < src_.size() && src_[pos_] == '\n') {
            ++pos_;
        }
    }

    void lex_comment(bool& strip_next) {
        size_t start = pos_;
        size_t end = src_.find("#}", pos_ + 2);
        if (end == std::string::npos) {
            fail("Missing end of comment tag", start);
        }
        bool minus = end > start + 2 && src_[end - 1] == '-';
        bool plus = end > start + 2 && src_[end - 1] == '+';
        pos_ = end + 2;
        finish_block(plus, minus, strip_next);
    }

    void lex_tag(Tok begin, bool& strip_next) {
        size_t start = pos_;
        pos_ += 2;
        if (pos_ < src_.size() && (src_[pos_] == '-' || src_[pos_] == '+')) {
            ++pos_;
        }
        emit(begin, begin == Tok::var_begin ? "{{" : "{%", start);
        size_t first_token = tokens_.size();
        std::vector<char> braces;
        for (;;) {
            while (pos_ < src_.size() && is_space(src_[pos_])) {
                ++pos_;
            }
            if (pos_ >= src_.size()) {
                fail(begin == Tok::var_begin
                         ? "unexpected end of template, expected 'end of print statement'."
                         : "unexpected end of template, expected 'end of statement block'.",
                     start);
            }
            if (braces.empty()) {
                if (begin == Tok::var_begin && (at("}}") || at("-}}"))) {
                    bool minus = at("-");
                    emit(Tok::var_end, "}}", pos_);
                    pos_ += minus ? 3 : 2;
                    strip_next = minus;
                    return;
                }
                if (begin == Tok::block_begin && (at("%}") || at("-%}") || at("+%}"))) {
                    bool minus = at("-");
                    bool plus = at("+");
                    emit(Tok::block_end, "%}", pos_);
                    pos_ += (minus || plus) ? 3 : 2;
                    finish_block(plus, minus, strip_next);
                    if (tokens_.size() == first_token + 2 &&
                        tokens_[first_token].type == Tok::name &&
                        tokens_[first_token].value == "raw") {
                        lex_raw(start, strip_next);
                    }
                    return;
                }
            }
            lex_token(braces);
        }
    }

    // {% raw %}...{% endraw %}: the body is text, verbatim.
    void lex_raw(size_t start, bool& strip_next) {
        for (size_t search = pos_;;) {
            size_t open = src_.find("{%", search);
            if (open == std::string::npos) {
                fail("Missing end of raw directive", start);
            }
            size_t k = open + 2;
            bool minus = k < src_.size() && src_[k] == '-';
            if (minus || (k < src_.size() && src_[k] == '+')) {
                ++k;
            }
            while (k < src_.size() && is_space(src_[k])) {
                ++k;
            }
            if (src_.compare(k, 6, "endraw") != 0) {
                search = open + 2;
                continue;
            }
            k += 6;
            while (k < src_.size() && is_space(src_[k])) {
                ++k;
            }
            bool end_minus = src_.compare(k, 3, "-%}") == 0;
            bool end_plus = src_.compare(k, 3, "+%}") == 0;
            if (!end_minus && !end_plus && src_.compare(k, 2, "%}") != 0) {
                search = open + 2;
                continue;
            }
            std::string body = src_.substr(pos_, open - pos_);
            if (strip_next) {
                size_t n = 0;
                while (n < body.size() && is_space(body[n])) {
                    ++n;
                }
                body.erase(0, n);
                strip_next = false;
            }
            if (minus) {
                while (!body.empty() && is_space(body.back())) {
                    body.pop_back();
                }
            }
            tokens_.resize(tokens_.size() - 3); // drop `{% raw %}`
            if (!body.empty()) {
                emit(Tok::text, std::move(body), pos_);
            }
            pos_ = k + (end_minus || end_plus ? 3 : 2);
            finish_block(end_plus, end_minus, strip_next);
            return;
        }
    }

    void lex_token(std::vector<char>& braces) {
        size_t start = pos_;
        char c = src_[pos_];
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            while (pos_ < src_.size() &&
                   (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) {
                ++pos_;
            }
            emit(Tok::name, src_.substr(start, pos_ - start), start);
            return;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            lex_number();
            return;
        }
        if (c == '\'' || c == '"') {
            lex_string(c);
            return;
        }
        static constexpr std::string_view two_char[] = {"//", "**", "==", "!=", "<=", ">="};
        for (auto op : two_char) {
            if (at(op)) {
                emit(Tok::op, std::string(op), start);
                pos_ += 2;
                return;
            }
        }
        if (std::string_view("+-/*%~[](){}<>=.:|,;").find(c) == std::string_view::npos) {
            fail(std::string("unexpected char ") + quote_char(c), start);
        }
        if (c == '(' || c == '[' || c == '{') {
            braces.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
            if (braces.empty()) {
                fail(std::string("unexpected '") + c + "'", start);
            }
            if (braces.back() != c) {
                fail(std::string("unexpected '") + c + "', expected '" + braces.back() + "'",
                     start);
            }
            braces.pop_back();
        }
        emit(Tok::op, std::string(1, c), start);
        ++pos_;
    }

    static std::string quote_char(char c) { return std::string("'") + c + "'"; }

    void lex_number() {
        size_t start = pos_;
        auto digits = [&] {
            while (pos_ < src_.size() &&
                   (std::isdigit(static_cast<unsigned char>(src_[pos_])) ||
                    (src_[pos_] == '_' && pos_ + 1 < src_.size() &&
                     std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))))) {
                ++pos_;
            }
        };
        digits();
        bool is_float = false;
        if (pos_ + 1 < src_.size() && src_[pos_] == '.' &&
            std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
            is_float = true;
            ++pos_;
            digits();
        }
        if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
            size_t k = pos_ + 1;
            if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) {
                ++k;
            }
            if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
                is_float = true;
                pos_ = k;
                digits();
            }
        }
        std::string text;
        for (size_t i = start; i < pos_; ++i) {
            if (src_[i] != '_') {
                text += src_[i];
            }
        }
        Token& token = emit(is_float ? Tok::floating : Tok::integer, text, start);
        if (is_float) {
            token.float_value = std::strtod(text.c_str(), nullptr);
        } else {
            errno = 0;
            token.int_value = std::strtoll(text.c_str(), nullptr, 10);
            // Past 64 bits the text keeps the exact value, up to Hearth's 128.
            if (errno == ERANGE && !parse_int128(text)) {
                fail("integer literal too large (more than 128 bits): " + text, start);
            }
        }
    }

    // Python's unicode-escape decoding of the literal's body; unknown escapes stay as written.
    void lex_string(char quote) {
        size_t start = pos_++;
        std::string value;
        for (;;) {
            if (pos_ >= src_.size()) {
                fail("unexpected end of string literal", start);
            }
            char c = src_[pos_++];
            if (c == quote) {
                break;
            }
            if (c != '\\') {
                value += c;
                continue;
            }
            if (pos_ >= src_.size()) {
                fail("unexpected end of string literal", start);
            }
            char e = src_[pos_++];
            auto hex = [&](int n) -> bool {
                if (pos_ + static_cast<size_t>(n) > src_.size()) {
                    return false;
                }
                uint32_t cp = 0;
                for (int i = 0; i < n; ++i) {
                    char h = src_[pos_ + static_cast<size_t>(i)];
                    if (!std::isxdigit(static_cast<unsigned char>(h))) {
                        return false;
                    }
                    cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                             ? h - '0'
                                                             : (std::tolower(h) - 'a' + 10));
                }
                pos_ += static_cast<size_t>(n);
                utf8_append(value, cp);
                return true;
            };
            switch (e) {
            case '\n':
                break;
            case '\\':
                value += '\\';
                break;
            case '\'':
                value += '\'';
                break;
            case '"':
                value += '"';
                break;
            case 'n':
                value += '\n';
                break;
            case 't':
                value += '\t';
                break;
            case 'r':
                value += '\r';
                break;
            case 'b':
                value += '\b';
                break;
            case 'f':
                value += '\f';
                break;
            case 'v':
                value += '\v';
                break;
            case 'a':
                value += '\a';
                break;
            case 'x':
            case 'u':
            case 'U':
                if (!hex(e == 'x' ? 2 : e == 'u' ? 4 : 8)) {
                    fail(std::string("truncated \\") + e + " escape in string literal", start);
                }
                break;
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t cp = static_cast<uint32_t>(e - '0');
                    for (int i = 0;
                         i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7';
                         ++i) {
                        cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
                    }
                    utf8_append(value, cp);
                } else {
                    value += '\\';
                    value += e;
                }
            }
        }
        emit(Tok::string, std::move(value), start);
    }
};

} // namespace

std::vector<Token> tokenize(std::string_view source) {
    return Lexer(source).run();
}

const char* token_description(Tok type) {
    switch (type) {
    case Tok::text:
        return "template data";
    case Tok::var_begin:
        return "begin of print statement";
    case Tok::var_end:
        return "end of print statement";
    case Tok::block_begin:
        return "begin of statement block";
    case Tok::block_end:
        return "end of statement block";
    case Tok::name:
        return "name";
    case Tok::string:
        return "string";
    case Tok::integer:
        return "integer";
    case Tok::floating:
        return "float";
    case Tok::op:
        return "operator";
    case Tok::eof:
        return "end of template";
    }
    return "token";
}

} // namespace hearth::jinja
