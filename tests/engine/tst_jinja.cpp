// Unit tests of the Jinja interpreter, construct by construct. The expected texts and
// messages are Python jinja2's in Hugging Face's environment (transformers'
// _compile_jinja_template, strftime_now frozen at 2025-01-15 10:30:45), produced by rendering
// each template with the context below; the chat-template corpus test is tst_chat_template.
#include "cpu_time.h"
#include "hearth/chat_template.h"

#include <QObject>
#include <QtTest>
#include <chrono>
#include <string>

namespace {

constexpr int64_t kFrozenNow = 1736937045; // 2025-01-15 10:30:45 UTC

const char* const kContext =
    R"~({"d": {"a": 1, "b": [1, 2]}, "l": [1, 2, 3], "s": "héllo", "n": null, "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})~";

struct Case {
    const char* name;
    const char* source;
    const char* expected;
};

// Renders that must match jinja2 byte for byte.
const Case
    kRenders
        [] =
            {
                {"literals",
                 R"~({{ 1 }} {{ -2 }} {{ 1.5 }} {{ 1e3 }} {{ "s" }} {{ 't' }} {{ true }} {{ False }} {{ none }} {{ None }} {{ [1, "a"] }} {{ (1,) }} {{ {"k": "v"} }})~",
                 R"~(1 -2 1.5 1000.0 s t True False None None [1, 'a'] (1,) {'k': 'v'})~"},
                {"string_escapes", R"~({{ "a\tb\\c\x41\u00e9\n" ~ 'it\'s' }})~",
                 R"~(a	b\cAé
it's)~"},
                {"adjacent_strings", R"~({{ "a" "b" 'c' }})~", R"~(abc)~"},
                {"python_str_of_values",
                 R"~({{ [1, "a", none, true, 1.5, {"k": "v"}, ("t",)] }} {{ {"a": none, "b": [1.0]} }} {{ ["it's", "q\"", "a\nb"] }})~",
                 R"~([1, 'a', None, True, 1.5, {'k': 'v'}, ('t',)] {'a': None, 'b': [1.0]} ["it's", 'q"', 'a\nb'])~"},
                {"float_repr",
                 R"~({{ 1.0 }} {{ 10/4 }} {{ 1/3 }} {{ 1e-5 }} {{ 1e16 }} {{ 1e15 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 123456789012345678.0 }} {{ 2.5e-7 }})~",
                 R"~(1.0 2.5 0.3333333333333333 1e-05 1e+16 1000000000000000.0 0.30000000000000004 -0.0 1.2345678901234568e+17 2.5e-07)~"},
                {"arithmetic",
                 R"~({{ 1 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 * 3 + 4 }} {{ 1 + 2.0 }} {{ true + 1 }})~",
                 R"~(0.5 2.0 3 -4 2 1.5 1024 0.5 4 10 3.0 2)~"},
                {"concat_and_repeat",
                 R"~({{ 1 ~ (2 + 3) }} {{ 1 ~ 2 * 3 }} {{ "ab" ~ none ~ x }} {{ "ab" * 3 }} {{ 2 * "x" }} {{ [1] * 2 }} {{ [1] + [2] }} {{ "a" + "b" }})~",
                 R"~(15 16 abNone ababab xx [1, 1] [1, 2] ab)~"},
                {"comparisons",
                 R"~({{ 1 == 1.0 }} {{ "1" == 1 }} {{ [1] == [1] }} {{ (1, 2) == [1, 2] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ "ab" < "b" }} {{ 2 >= 2 }} {{ x == none }} {{ none == none }})~",
                 R"~(True False True False True False True True False True)~"},
                {"in_operator",
                 R"~({{ "a" in "cat" }} {{ 1 in [1, 2] }} {{ "k" in {"k": 1} }} {{ "z" not in "abc" }} {{ 3 not in l }} {{ "x" in undefined_thing }})~",
                 R"~(True True True True False False)~"},
                {"logic_returns_operands",
                 R"~({{ 1 and "x" }} {{ 0 and "x" }} {{ 0 or [] }} {{ "" or "y" }} {{ not 0 }} {{ not [1] }} {{ none or "z" }})~",
                 R"~(x 0 [] y True False z)~"},
                {"ternary",
                 R"~({{ "y" if l else "n" }}|{{ "y" if [] else "n" }}|{{ "a" if false }}|{{ ("a" if false) is defined }})~",
                 R"~(y|n||False)~"},
                {"attribute_vs_item",
                 R"~({{ msgs[0].content }} {{ msgs[0]["content"] }} {{ d.b[1] }} {{ d.b.0 }} {{ d["b"][-1] }} {{ d.missing }}|{{ d["missing"] }}|{{ l[10] }}|)~",
                 R"~(hi hi 2 1 2 |||)~"},
                {"dict_method_wins_over_key",
                 R"~({% set m = {"items": "key"} %}{{ m["items"] }} {{ m.items()|list }})~",
                 R"~(key [('items', 'key')])~"},
                {"slices",
                 R"~({{ "abcdef"[1:4] }} {{ "abcdef"[::-1] }} {{ "abcdef"[::2] }} {{ "abcdef"[-2:] }} {{ [1, 2, 3, 4][-1:0:-2] }} {{ l[:-1] }} {{ s[1:3] }} {{ s[::-1] }} {{ "abc"[5:] }}|)~",
                 R"~(bcd fedcba ace ef [4, 2] [1, 2] él olléh |)~"},
                {"string_index", R"~({{ "abc"[1] }} {{ "abc"[-1] }} {{ s[1] }} {{ "abc"[5] }}|)~",
                 R"~(b c é |)~"},
                {"if_elif_else",
                 R"~({% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %} {% endfor %})~",
                 R"~(one two many )~"},
                {"loop_variables",
                 R"~({% for x in ["a", "b", "c"] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %})~",
                 R"~(1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|)~"},
                {"loop_prev_next",
                 R"~({% for x in l %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %})~",
                 R"~([<1>2][1<2>3][2<3>])~"},
                {"loop_cycle_depth",
                 R"~({% for x in l %}{{ loop.cycle("odd", "even") }}{{ loop.depth }}{{ loop.depth0 }} {% endfor %})~",
                 R"~(odd10 even10 odd10 )~"},
                {"loop_changed",
                 R"~({% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %})~",
                 R"~(121)~"},
                {"nested_loops",
                 R"~({% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.last }};{% endfor %})~",
                 R"~(113 214 False;123 224 True;)~"},
                {"break_continue",
                 R"~({% for i in l %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% if i == 3 %}{% break %}{% endif %}{% endfor %}|{% for i in range(10) %}{% if i > 2 %}{% break %}{% endif %}{{ i }}{% endfor %})~",
                 R"~(13|012)~"},
                {"for_else",
                 R"~({% for i in [] %}x{% else %}empty{% endfor %} {% for i in [1] %}x{% else %}empty{% endfor %})~",
                 R"~(empty x)~"},
                {"for_filter_condition",
                 R"~({% for i in [1, 2, 3, 4] if i is even %}{{ loop.index }}/{{ loop.length }}:{{ i }} {% endfor %})~",
                 R"~(1/2:2 2/2:4 )~"},
                {"for_unpacking",
                 R"~({% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in [[1, 2], (3, 4)] %}{{ k + v }}{% endfor %})~",
                 R"~(a=1;b=[1, 2];37)~"},
                {"for_over_dict_and_string",
                 R"~({% for k in {"x": 1, "y": 2} %}{{ k }}{% endfor %} {% for c in s %}{{ c }}.{% endfor %})~",
                 R"~(xy h.é.l.l.o.)~"},
                {"for_recursive",
                 R"~({% for item in [{"n": "a", "c": [{"n": "b", "c": []}]}] recursive %}{{ item.n }}{{ loop.depth }}({{ loop(item.c) }}){% endfor %})~",
                 R"~(a1(b2()))~"},
                {"loop_scope",
                 R"~({% set y = 5 %}{% for i in [1, 2] %}{{ y }}{% set y = i %}{{ y }}{% endfor %}{{ y }}|{% for i in [1, 2] %}{% set z = i %}{% endfor %}{{ z }})~",
                 R"~(51525|)~"},
                {"if_does_not_scope",
                 R"~({% set y = 5 %}{% if true %}{% set y = 6 %}{% endif %}{{ y }})~", R"~(6)~"},
                {"set_forms",
                 R"~({% set a = 1 %}{% set b, c = 2, 3 %}{% set t = (1, 2) %}{{ a }}{{ b }}{{ c }}{{ t }})~",
                 R"~(123(1, 2))~"},
                {"block_set",
                 R"~({% set x %}  hi {{ 1 }}{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }})~",
                 R"~([  hi 1]ABC)~"},
                {"namespace",
                 R"~({% set ns = namespace(a=1, found=false) %}{% for i in l %}{% set ns.a = ns.a + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }} {{ ns.found }} {{ ns }})~",
                 R"~(7 True <Namespace {'a': 7, 'found': True}>)~"},
                {"namespace_from_dict",
                 R"~({% set ns = namespace({"k": "v"}, x=2) %}{{ ns.k }}{{ ns.x }}{{ ns.missing }}|)~",
                 R"~(v2|)~"},
                {"with_block",
                 R"~({% set a = 1 %}{% with a = 2, b = 3 %}{{ a }}{{ b }}{% endwith %}{{ a }}{{ b }})~",
                 R"~(231)~"},
                {"macro_defaults_kwargs",
                 R"~({% macro m(a, b=2, c="x") %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(1, c="z") }} {{ m() }}|)~",
                 R"~(12x 13x 12z 2x|)~"},
                {"macro_varargs_kwargs",
                 R"~({% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }})~",
                 R"~(1(2, 3){'k': 4})~"},
                {"macro_sees_later_globals",
                 R"~({% macro m() %}{{ y }}{% endmacro %}{% set y = 5 %}{{ m() }}{% set y = 7 %}{{ m() }})~",
                 R"~(57)~"},
                {"macro_recursion",
                 R"~({% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }})~",
                 R"~(120)~"},
                {"call_block",
                 R"~({% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap("b") %}bold{% endcall %})~",
                 R"~(<b>bold</b>)~"},
                {"call_block_args",
                 R"~({% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %})~",
                 R"~([1][2])~"},
                {"filter_block",
                 R"~({% filter upper %}abc {{ "def" }}{% endfilter %}|{% filter trim %}   padded   {% endfilter %}|{% filter replace("a", "o")|upper %}banana{% endfilter %})~",
                 R"~(ABC DEF|padded|BONONO)~"},
                {"generation_block",
                 R"~({% for m in msgs %}{% if m.role == "assistant" %}{% generation %}{{ m.content }}!{% endgeneration %}{% else %}{{ m.content }} {% endif %}{% endfor %})~",
                 R"~(hi yo!)~"},
                {"raw_block", R"~({% raw %}{{ not rendered }} {% if %}{% endraw %})~",
                 R"~({{ not rendered }} {% if %})~"},
                {"comments", R"~(a{# a comment #}b{#- trimmed -#}  c)~", R"~(abc)~"},
                {"trim_blocks", R"~({% if true %}
line
{% endif %}
after)~",
                 R"~(line
after)~"},
                {"lstrip_blocks", R"~(a
    {% if true %}
    b
    {% endif %}
c
  {# c #}
d)~",
                 R"~(a
    b
c
d)~"},
                {"minus_markers", R"~(a   {{- "b" -}}   c
  {%- if true -%}
  d  
{%- endif -%}
 e)~",
                 R"~(abcde)~"},
                {"plus_markers", R"~(a {%+ if true %} x {% endif +%}
q)~",
                 R"~(a  x 
q)~"},
                {"variable_tags_keep_newline", R"~({{ "a" }}
{{ "b" }}
)~",
                 R"~(a
b)~"},
                {"trailing_newline_dropped", R"~(x
)~",
                 R"~(x)~"},
                {"tests_types",
                 R"~({{ true is boolean }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 1 is number }} {{ true is number }} {{ "a" is string }} {{ {} is mapping }} {{ [] is mapping }} {{ none is none }} {{ x is none }} {{ print is defined }})~",
                 R"~(True True False True True True True True False True False False)~"},
                {"tests_sequences",
                 R"~({{ "a" is iterable }} {{ 1 is iterable }} {{ "a" is sequence }} {{ {} is sequence }} {{ [] is sequence }} {{ x is iterable }} {{ range is callable }} {{ d.get is callable }})~",
                 R"~(True False True True True True True True)~"},
                {"tests_values",
                 R"~({{ 1 is odd }} {{ 2 is even }} {{ 9 is divisibleby 3 }} {{ 10 is divisibleby(3) }} {{ 2 is equalto 2 }} {{ 2 is eq 3 }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ 2 is ge 2 }} {{ 1 is ne 1 }} {{ 1 is in [1] }} {{ 1 is true }} {{ true is true }} {{ false is false }} {{ none is sameas none }} {{ "abc" is lower }} {{ "ABC" is upper }})~",
                 R"~(True True True False True False True False True False True False True True True True True)~"},
                {"tests_defined",
                 R"~({{ x is defined }} {{ x is undefined }} {{ d is defined }} {{ d.a is defined }} {{ d.zz is defined }} {{ d.zz is not defined }} {{ not x is defined }})~",
                 R"~(False True True True False True True)~"},
                {"filter_string_case",
                 R"~({{ s|upper }} {{ "HÉLLO"|lower }} {{ "héllo wORLD-foo (bar"|title }} {{ "hÉllo"|capitalize }} {{ "ß"|upper }} {{ "ΑΒΓ"|lower }} {{ "привет"|upper }})~",
                 R"~(HÉLLO héllo Héllo World-Foo (Bar Héllo SS αβγ ПРИВЕТ)~"},
                {"filter_length_count",
                 R"~({{ s|length }} {{ "🌍ab"|length }} {{ l|count }} {{ d|length }} {{ x|length }} {{ msgs|length }})~",
                 R"~(5 3 3 2 0 2)~"},
                {"filter_trim_replace",
                 R"~([{{ "  x \n"|trim }}] [{{ "xxaxx"|trim("x") }}] {{ "Hello World"|replace("o", "0") }} {{ "aaa"|replace("a", "b", 2) }} {{ "ab"|replace("", "-") }})~",
                 R"~([x] [a] Hell0 W0rld bba -a-b-)~"},
                {"filter_join_list",
                 R"~({{ l|join }} {{ l|join(", ") }} {{ msgs|join("/", attribute="role") }} {{ "abc"|list }} {{ d|list }} {{ x|list }})~",
                 R"~(123 1, 2, 3 user/assistant ['a', 'b', 'c'] ['a', 'b'] [])~"},
                {"filter_first_last",
                 R"~({{ l|first }} {{ l|last }} {{ "abc"|first }} {{ "abc"|last }} {{ []|first }}|)~",
                 R"~(1 3 a c |)~"},
                {"filter_default",
                 R"~({{ x|default("d") }} {{ ""|default("d") }} {{ ""|default("d", true) }} {{ none|default("d") }} {{ x|d("dd") }} {{ 0|default(5, boolean=true) }} {{ x|default }}|)~",
                 R"~(d  d None dd 5 |)~"},
                {"filter_items_dictsort",
                 R"~({{ d|items|list }} {{ {"b": 1, "A": 2, "a": 3}|dictsort }} {{ {"b": 1, "a": 2}|dictsort(by="value") }} {{ {"b": 1, "a": 2}|dictsort(reverse=true) }})~",
                 R"~([('a', 1), ('b', [1, 2])] [('A', 2), ('a', 3), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)])~"},
                {"filter_map",
                 R"~({{ msgs|map(attribute="role")|list }} {{ ["a", "B"]|map("upper")|list }} {{ [1, -2]|map("abs")|list }} {{ [{"a": 1}, {}]|map(attribute="a", default=0)|list }} {{ ["a,b", "c"]|map("replace", ",", ";")|join }})~",
                 R"~(['user', 'assistant'] ['A', 'B'] [1, 2] [1, 0] a;bc)~"},
                {"filter_select_reject",
                 R"~({{ [1, 2, 3, 4]|select("odd")|list }} {{ [1, 2, 3, 4]|reject("odd")|list }} {{ [0, 1, "", "a"]|select|list }} {{ [1, 5, 10]|select("gt", 3)|list }})~",
                 R"~([1, 3] [2, 4] [1, 'a'] [5, 10])~"},
                {"filter_selectattr",
                 R"~({{ msgs|selectattr("role", "equalto", "user")|list }} {{ msgs|rejectattr("role", "equalto", "user")|map(attribute="content")|list }} {{ [{"x": 1}, {"x": 0}, {}]|selectattr("x")|list }} {{ msgs|selectattr("role", "in", ["assistant"])|list|length }})~",
                 R"~([{'role': 'user', 'content': 'hi'}] ['yo'] [{'x': 1}] 1)~"},
                {"filter_tojson",
                 R"~({{ d|tojson }} {{ "é\"\n"|tojson }} {{ [1.0, none, true]|tojson }} {{ {"a": [1, {"b": []}]}|tojson(indent=2) }} {{ {"b": 1, "a": 2}|tojson(sort_keys=true) }} {{ {"a": 1, "b": 2}|tojson(separators=(",", ":")) }} {{ "é🌍"|tojson(ensure_ascii=true) }} {{ d|tojson(indent="\t") }})~",
                 R"~({"a": 1, "b": [1, 2]} "é\"\n" [1.0, null, true] {
  "a": [
    1,
    {
      "b": []
    }
  ]
} {"a": 2, "b": 1} {"a":1,"b":2} "\u00e9\ud83c\udf0d" {
	"a": 1,
	"b": [
		1,
		2
	]
})~"},
                {"filter_string_int_float",
                 R"~({{ l|string }} {{ 3.7|int }} {{ "42"|int }} {{ " 42 "|int }} {{ "4.2"|int }} {{ "x"|int }} {{ "x"|int(7) }} {{ "ff"|int(base=16) }} {{ "4.5"|float }} {{ "x"|float }} {{ 3|float }} {{ true|int }})~",
                 R"~([1, 2, 3] 3 42 42 4 0 7 255 4.5 0.0 3.0 1)~"},
                {"filter_abs_round",
                 R"~({{ -3|abs }} {{ (-3)|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 2.1|round(0, "ceil") }} {{ 2.9|round(method="floor") }} {{ 5|round }} {{ 2.675|round(2) }})~",
                 R"~(3 3 2.5 2.0 4.0 2.57 3.0 2.0 5 2.67)~"},
                {"filter_unique_sort",
                 R"~({{ [1, 2, 1, 3]|unique|list }} {{ ["a", "A", "b"]|unique|list }} {{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ["b", "A", "a", "C"]|sort }} {{ ["b", "A"]|sort(case_sensitive=true) }} {{ msgs|sort(attribute="content")|map(attribute="content")|list }})~",
                 R"~([1, 2, 3] ['a', 'b'] [1, 2, 3] [3, 2, 1] ['A', 'a', 'b', 'C'] ['A', 'b'] ['hi', 'yo'])~"},
                {"filter_indent",
                 R"~({{ "a\nb"|indent(2) }}|{{ "a\nb\n\nc"|indent(2, true) }}|{{ "a\n\nb"|indent(2, first=true, blank=true) }}|{{ "a\nb"|indent("> ") }}|{{ "x"|indent }})~",
                 R"~(a
  b|  a
  b

  c|  a
  
  b|a
> b|x)~"},
                {"filter_misc",
                 R"~({{ "a b  c\nd"|wordcount }} {{ "<a href=\"x\">&'"|e }} {{ "<b>"|escape }} {{ "<i>"|safe }} {{ "abc"|reverse }} {{ l|reverse|list }} {{ l|sum }} {{ l|max }} {{ l|min }} {{ "%s-%d"|format("a", 3) }} {{ "abc"|center(9) }}|)~",
                 R"~(4 &lt;a href=&#34;x&#34;&gt;&amp;&#39; &lt;b&gt; <i> cba [3, 2, 1] 6 3 1 a-3    abc   |)~"},
                {"str_methods_strip_split", R"~([{{ "  a  ".strip() }}][{{ "  a  ".lstrip() }}][{{ "  a  ".rstrip() }}][{{ "xxaxx".strip("x") }}][{{ "xya".lstrip("yx") }}] {{ "a,b,,c".split(",") }} {{ " a  b ".split() }} {{ "a,b,c".split(",", 1) }} {{ "a.b.c".rsplit(".", 1) }} {{ "".split(",") }} {{ "a\nb\r\nc".splitlines() }})~", R"~([a][a  ][  a][a][a] ['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] ['a.b', 'c'] [''] ['a', 'b', 'c'])~"},
                {"str_methods_misc",
                 R"~({{ "abc".startswith("a") }} {{ "abc".startswith(("x", "a")) }} {{ "abc".endswith("bc") }} {{ "abc".upper() }} {{ "ABC".lower() }} {{ "hello world".title() }} {{ "they're".title() }} {{ "a-b".replace("-", "+") }} {{ "hello".capitalize() }} {{ "banana".find("n") }} {{ "banana".count("a") }} {{ "-".join(["a", "b"]) }})~",
                 R"~(True True True ABC abc Hello World They'Re a+b Hello 2 3 a-b)~"},
                {"str_format",
                 R"~({{ "{} and {}".format(1, "b") }} {{ "{0}{1}{0}".format("x", "y") }} {{ "{name}!".format(name="n") }} {{ "{{literal}}".format() }} {{ "{:>5}|{:<4}|{:^5}".format("a", "b", "c") }} {{ "{:.2f}".format(3.14159) }} {{ "%s and %s" % ("a", "b") }} {{ "%.1f%%" % 12.34 }} {{ "%(k)s" % {"k": "v"} }})~",
                 R"~(1 and b xyx n! {literal}     a|b   |  c   3.14 a and b 12.3% v)~"},
                {"dict_methods",
                 R"~({{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get("a") }} {{ d.get("zz") }} {{ d.get("zz", 3) }} {% for k, v in d.items() %}{{ k }}{% endfor %})~",
                 R"~(['a', 'b'] [1, [1, 2]] [('a', 1), ('b', [1, 2])] 1 None 3 ab)~"},
                {"list_methods",
                 R"~({{ [1, 2, 2].count(2) }} {{ ["a", "b"].index("b") }} {{ l.copy() }})~",
                 R"~(2 1 [1, 2, 3])~"},
                {"globals",
                 R"~({{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b=2) }} {{ namespace(a=1).a }} {% set j = joiner("|") %}{% for i in l %}{{ j() }}{{ i }}{% endfor %})~",
                 R"~([0, 1, 2] [1, 4, 7] [5, 3, 1] {'a': 1, 'b': 2} 1 1|2|3)~"},
                {"strftime_now",
                 R"~({{ strftime_now("%Y-%m-%d") }} {{ strftime_now("%d %b %Y") }} {{ strftime_now("%B %d, %Y %H:%M") }})~",
                 R"~(2025-01-15 15 Jan 2025 January 15, 2025 10:30)~"},
                {"undefined_printing",
                 R"~([{{ x }}][{{ x ~ "a" }}][{{ x|string }}][{{ x|trim }}][{{ x|length }}][{% for i in x %}never{% endfor %}][{{ x is none }}][{{ x == none }}][{{ [x] }}])~",
                 R"~([][a][][][0][][False][False][[Undefined]])~"},
                {"none_printing",
                 R"~({{ n }} {{ n|string }} {{ n is none }} {{ n|default("d") }} {{ [n] }} {{ n|tojson }})~",
                 R"~(None None True None [None] null)~"},
};

// Renders that must fail with jinja2's message (str(exception)).
const Case kErrors[] = {
    {"undefined_attribute", R"~({{ x.y }})~", R"~('x' is undefined)~"},
    {"undefined_nested_attribute", R"~({{ d.missing.x }})~",
     R"~('dict object' has no attribute 'missing')~"},
    {"undefined_call", R"~({{ x() }})~", R"~('x' is undefined)~"},
    {"undefined_method_call", R"~({{ x.strip() }})~", R"~('x' is undefined)~"},
    {"undefined_arithmetic", R"~({{ x + 1 }})~", R"~('x' is undefined)~"},
    {"index_error_attribute", R"~({{ l[5].x }})~", R"~(list object has no element 5)~"},
    {"none_attribute", R"~({{ n.x.y }})~", R"~('None' has no attribute 'x')~"},
    {"undefined_tojson", R"~({{ x|tojson }})~",
     R"~(Object of type Undefined is not JSON serializable)~"},
    {"ternary_without_else", R"~({{ ("a" if false).x }})~",
     R"~(the inline if-expression on line 1 evaluated to false and no else section was defined.)~"},
    {"raise_exception", R"~({{ raise_exception("System role not supported") }})~",
     R"~(System role not supported)~"},
    {"raise_exception_in_loop",
     R"~({% for m in msgs %}{% if m.role == "assistant" %}{{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}{% endif %}{% endfor %})~",
     R"~(Conversation roles must alternate user/assistant/user/assistant/...)~"},
    {"str_plus_int", R"~({{ "a" + 1 }})~", R"~(can only concatenate str (not "int") to str)~"},
    {"int_plus_str", R"~({{ 1 + "a" }})~",
     R"~(unsupported operand type(s) for +: 'int' and 'str')~"},
    {"none_plus_int", R"~({{ n + 1 }})~",
     R"~(unsupported operand type(s) for +: 'NoneType' and 'int')~"},
    {"compare_int_str", R"~({{ 1 < "a" }})~",
     R"~('<' not supported between instances of 'int' and 'str')~"},
    {"division_by_zero", R"~({{ 1 / 0 }})~", R"~(division by zero)~"},
    {"floor_division_by_zero", R"~({{ 1 // 0 }})~", R"~(integer division or modulo by zero)~"},
    {"iterate_none", R"~({% for t in n %}{% endfor %})~", R"~('NoneType' object is not iterable)~"},
    {"iterate_int", R"~({% for t in 5 %}{% endfor %})~", R"~('int' object is not iterable)~"},
    {"len_of_int", R"~({{ 5|length }})~", R"~(object of type 'int' has no len())~"},
    {"list_append_unsafe", R"~({% set q = [] %}{% set _ = q.append(1) %})~",
     R"~(access to attribute 'append' of 'list' object is unsafe.)~"},
    {"dict_update_unsafe", R"~({{ d.update({}) }})~",
     R"~(access to attribute 'update' of 'dict' object is unsafe.)~"},
    {"dict_pop_unsafe", R"~({{ d.pop("a") }})~",
     R"~(access to attribute 'pop' of 'dict' object is unsafe.)~"},
    {"namespace_underscore", R"~({% set ns = namespace() %}{% set ns._x = 1 %})~",
     R"~(Chat templates cannot store underscore-prefixed attributes on a namespace, but got '_x'. Please rename the attribute.)~"},
    {"set_attribute_on_dict", R"~({% set d.a = 2 %})~",
     R"~(cannot assign attribute on non-namespace object)~"},
    {"range_too_big", R"~({% for i in range(100000000) %}{% endfor %})~",
     R"~(Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).)~"},
    {"unknown_filter_in_if", R"~({% if l %}{{ l|no_such_filter }}{% endif %})~",
     R"~(No filter named 'no_such_filter' found.)~"},
    {"unknown_test_in_if", R"~({% if l is no_such_test %}{% endif %})~",
     R"~(No test named 'no_such_test' found.)~"},
    {"call_non_callable", R"~({{ l() }})~", R"~('list' object is not callable)~"},
    {"in_string_non_string", R"~({{ 1 in "abc" }})~",
     R"~('in <string>' requires string as left operand, not int)~"},
    {"unpack_mismatch", R"~({% for a, b in [[1, 2, 3]] %}{% endfor %})~",
     R"~(too many values to unpack (expected 2))~"},
    {"list_pop_unsafe", R"~({{ l.pop() }})~",
     R"~(access to attribute 'pop' of 'list' object is unsafe.)~"},
    {"list_pop_in_set_unsafe", R"~({% set ids = namespace(q=[1]) %}{% set x = ids.q.pop(0) %})~",
     R"~(access to attribute 'pop' of 'list' object is unsafe.)~"},
};

hearth::Result<std::string> render(const char* source, const hearth::RenderOptions& options = {}) {
    auto parsed = hearth::ChatTemplate::parse(source);
    if (!parsed) {
        return std::unexpected(parsed.error());
    }
    hearth::RenderOptions o = options;
    o.now_unix = kFrozenNow;
    return parsed->render(nlohmann::ordered_json::parse(kContext), o);
}

} // namespace

class TestJinja : public QObject {
    Q_OBJECT

private slots:
    void renders_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("expected");
        for (const Case& c : kRenders) {
            QTest::newRow(c.name) << QString::fromUtf8(c.source) << QString::fromUtf8(c.expected);
        }
    }

    void renders() {
        QFETCH(QString, source);
        QFETCH(QString, expected);
        auto out = render(source.toUtf8().constData());
        QVERIFY2(out.has_value(), out ? "" : out.error().message.c_str());
        QCOMPARE(QString::fromStdString(*out), expected);
    }

    void errors_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("message");
        for (const Case& c : kErrors) {
            QTest::newRow(c.name) << QString::fromUtf8(c.source) << QString::fromUtf8(c.expected);
        }
    }

    void errors() {
        QFETCH(QString, source);
        QFETCH(QString, message);
        auto out = render(source.toUtf8().constData());
        QVERIFY2(!out.has_value(), out ? out->c_str() : "");
        QCOMPARE(QString::fromStdString(out.error().message), message);
        QCOMPARE(out.error().code, hearth::ErrorCode::bad_format);
    }

    void parse_errors_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("message");
        QTest::newRow("unclosed for")
            << "line one\n{% for m in messages %}\n{{ m }}\n"
            << "template syntax error at line 3, column 8: Unexpected end of template. Jinja was "
               "looking for the following tags: 'endfor' or 'else'. The innermost block that "
               "needs to be closed is 'for'.";
        QTest::newRow("unknown tag")
            << "{% if x %}\n  {% frobnicate %}{% endif %}"
            << "template syntax error at line 2, column 6: Encountered unknown tag 'frobnicate'. "
               "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The "
               "innermost block that needs to be closed is 'if'.";
        QTest::newRow("bad expression") << "{{ 1 + }}"
                                        << "template syntax error at line 1, column 8: unexpected "
                                           "'end of print statement'";
        QTest::newRow("missing end of print")
            << "ab\ncd {{ x y }}"
            << "template syntax error at line 2, column 9: expected token 'end of print "
               "statement', got 'y'";
        QTest::newRow("unterminated tag")
            << "{{ x"
            << "template syntax error at line 1, column 1: unexpected end of template, expected "
               "'end of print statement'.";
        QTest::newRow("unterminated comment") << "a {# b"
                                              << "template syntax error at line 1, "
                                                 "column 3: Missing end of comment tag";
        QTest::newRow("unterminated string") << "{{ 'abc }}"
                                             << "template syntax error at line 1, "
                                                "column 4: unexpected end of string "
                                                "literal";
        QTest::newRow("unknown filter outside if")
            << "{{ x|from_json }}"
            << "template syntax error at line 1, column 6: No filter named "
               "'from_json'.";
        QTest::newRow("unknown test outside if") << "{{ x is weird }}"
                                                 << "template syntax error at line 1, column 9: No "
                                                    "test named 'weird'.";
        QTest::newRow("break outside loop") << "{% break %}"
                                            << "template syntax error at line 1, "
                                               "column 4: Encountered unknown tag "
                                               "'break'.";
        QTest::newRow("unbalanced bracket") << "{{ (1 ] }}"
                                            << "template syntax error at line 1, "
                                               "column 7: unexpected ']', expected "
                                               "')'";
        QTest::newRow("deep nesting") << QString("{{ ") + QString("(").repeated(5000) + "1" +
                                             QString(")").repeated(5000) + " }}"
                                      << "template syntax error at line 1, column 132: template "
                                         "nesting is too deep (more than 256 levels)";
    }

    void parse_errors() {
        QFETCH(QString, source);
        QFETCH(QString, message);
        auto parsed = hearth::ChatTemplate::parse(source.toStdString());
        QVERIFY(!parsed.has_value());
        QCOMPARE(QString::fromStdString(parsed.error().message), message);
    }

    void filters_inside_if_fail_at_render_only() {
        auto skipped = render("{% if false %}{{ x|from_json }}{% endif %}ok");
        QVERIFY(skipped.has_value());
        QCOMPARE(*skipped, std::string("ok"));
    }

    void limits_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("message");
        QTest::newRow("range over the sandbox maximum")
            << "{% for i in range(100000000) %}x{% endfor %}"
            << "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).";
        QTest::newRow("nested loops")
            << "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
            << "template rendering exceeded its work budget (100000000 units of work: loop "
               "iterations, expressions, and the text and items they handle)";
        QTest::newRow("recursive macro")
            << "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
            << "maximum recursion depth exceeded (256 nested macro calls or loops)";
        QTest::newRow("output size") << "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"
                                     << "rendered output is too large (more than 16777216 bytes)";
        QTest::newRow("string repetition") << "{{ 'x' * 100000000000 }}"
                                           << "string repetition result is too large";
        QTest::newRow("doubling namespace string")
            << "{% set ns = namespace(s='xx') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s "
               "%}{% endfor %}{{ ns.s|length }}"
            << "rendered output is too large (more than 16777216 bytes)";
    }

    void limits() {
        QFETCH(QString, source);
        QFETCH(QString, message);
        const hearth::test::CpuStopwatch cpu;
        auto out = render(source.toUtf8().constData());
        const double seconds = cpu.seconds();
        QVERIFY(!out.has_value());
        QCOMPARE(QString::fromStdString(out.error().message), message);
        QVERIFY2(seconds < 5.0, qPrintable(QString("took %1 s of CPU").arg(seconds)));
    }

    void custom_limits() {
        hearth::RenderOptions options;
        options.limits.max_output_bytes = 10;
        auto out = render("{{ 'abcdefghijk' }}", options);
        QVERIFY(!out.has_value());
        QCOMPARE(out.error().message,
                 std::string("rendered output is too large (more than 10 bytes)"));
        options.limits = {};
        options.limits.max_depth = 3;
        out = render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro "
                     "%}{{ f(1) }}",
                     options);
        QVERIFY2(out.has_value(), out ? "" : out.error().message.c_str());
        QCOMPARE(*out, std::string("01"));
        out = render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro "
                     "%}{{ f(5) }}",
                     options);
        QVERIFY(!out.has_value());
    }

    void render_is_repeatable_and_shared() {
        auto parsed =
            hearth::ChatTemplate::parse("{% set ns = namespace(n=0) %}{% for m in messages %}"
                                        "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        QVERIFY(parsed.has_value());
        hearth::ChatTemplate copy = *parsed;
        nlohmann::ordered_json context = {{"messages", {1, 2, 3}}};
        QCOMPARE(*parsed->render(context), std::string("3"));
        QCOMPARE(*copy.render(context), std::string("3"));
    }

    void context_must_be_an_object() {
        auto parsed = hearth::ChatTemplate::parse("x");
        QVERIFY(parsed.has_value());
        auto out = parsed->render(nlohmann::ordered_json::array());
        QVERIFY(!out.has_value());
        QCOMPARE(out.error().code, hearth::ErrorCode::invalid_argument);
    }

    void strftime_now_without_frozen_clock() {
        auto parsed = hearth::ChatTemplate::parse("{{ strftime_now('%Y') }}");
        QVERIFY(parsed.has_value());
        auto out = parsed->render(nlohmann::ordered_json::object());
        QVERIFY(out.has_value());
        QCOMPARE(out->size(), size_t(4));
        QVERIFY(*out >= std::string("2025"));
    }
};

QTEST_APPLESS_MAIN(TestJinja)
#include "tst_jinja.moc"
