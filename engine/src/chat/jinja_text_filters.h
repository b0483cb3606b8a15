// Filters on strings and numbers (jinja_text_filters.cpp), registered by jinja_filters.cpp.
#pragma once

#include "chat/jinja_args.h"
#include "chat/jinja_interp.h"

namespace hearth::jinja::filters {

// Python's str.strip / lstrip / rstrip: `chars` undefined or None strips Unicode whitespace,
// else any of its characters (code points, not bytes). Shared by |trim and the methods.
std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right);

Value f_string(Interpreter& in, Value& v, Args& a);
Value f_trim(Interpreter& in, Value& v, Args& a);
Value f_upper(Interpreter& in, Value& v, Args& a);
Value f_lower(Interpreter& in, Value& v, Args& a);
Value f_title(Interpreter& in, Value& v, Args& a);
Value f_capitalize(Interpreter& in, Value& v, Args& a);
Value f_escape(Interpreter& in, Value& v, Args& a);
Value f_safe(Interpreter& in, Value& v, Args& a);
Value f_replace(Interpreter& in, Value& v, Args& a);
Value f_int(Interpreter& in, Value& v, Args& a);
Value f_float(Interpreter& in, Value& v, Args& a);
Value f_abs(Interpreter& in, Value& v, Args& a);
Value f_round(Interpreter& in, Value& v, Args& a);
Value f_indent(Interpreter& in, Value& v, Args& a);
Value f_wordcount(Interpreter& in, Value& v, Args& a);
Value f_format(Interpreter& in, Value& v, Args& a);
Value f_center(Interpreter& in, Value& v, Args& a);

} // namespace hearth::jinja::filters
