// UTF-8 helpers: Python strings count, index and case-map by code point, so the interpreter
// walks UTF-8 text one code point at a time. Invalid bytes decode as themselves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

// Decodes the code point at text[i] and advances i past it.
uint32_t utf8_decode(std::string_view text, size_t& i);
void utf8_append(std::string& out, uint32_t cp);

std::vector<std::string_view> utf8_chars(std::string_view text);
size_t utf8_length(std::string_view text);
// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
// (and 'ß'.upper() == 'SS'); other scripts are left as they are.
std::string utf8_upper(std::string_view text);
std::string utf8_lower(std::string_view text);
// Python's str.isspace() for one character.
bool is_python_space(std::string_view ch);

// The first occurrence of `needle` in `text` at or after byte `from`, or npos, in time linear
// in the bytes scanned whatever the texts (glibc's two-way memmem, where std::string::find
// compares the needle again at every position: quadratic for 'aaa…ab' in 'aaa…a'), and
// charged by them to the render's work budget.
size_t find_text(std::string_view text, std::string_view needle, size_t from = 0);

} // namespace hearth::jinja
