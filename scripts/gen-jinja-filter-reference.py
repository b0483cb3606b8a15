#!/usr/bin/env python3
"""Generates tests/data/templates/filter_matrix.json: what Python jinja2 does with every filter
and test Hearth's interpreter implements, on None, Undefined, empty, string, mapping, list and
number inputs, in the environment Hugging Face's apply_chat_template uses (transformers' own
_compile_jinja_template). tst_jinja_fidelity renders the same cases and compares.

Run from the repository root (needs the virtual environment with jinja2 and transformers):
    .venv/bin/python scripts/gen-jinja-filter-reference.py

Each case is a template, the variables of INPUTS, and the outcome: the rendered text, or the
exception's class and message; the int_cases do the same for integers past 64 bits (INT_INPUTS,
INT_TEMPLATES: printing, tojson, arithmetic, comparisons, filters). A filter's result is printed as is, except an iterator
(select, map, ...: a generator in Python, a list in Hearth), which is printed as a list.
KNOWN_DIFFERENCES lists the cases where Hearth deliberately differs, with the reason; the test
checks that those, and only those, differ as recorded.
"""
import copy
import json
import pathlib
import sys

from transformers.utils.chat_template_utils import _compile_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "templates" / "filter_matrix.json"

# The inputs, by variable name; `u` is never defined (jinja2's Undefined). Hugging Face passes
# tools=None and documents=None, so None is what templates meet most.
INPUTS = {
    "n": None,
    "s0": "",
    "l0": [],
    "m0": {},
    "s": "Ab c",
    "m": {"a": 1, "b": "x"},
    "ld": [{"a": 2, "b": "x"}, {"a": 1, "b": "y"}],
    "ls": ["b", "A", "c"],
    "i": -3,
}
INPUT_NAMES = ["u", *INPUTS]

# Every filter of Hearth's table (jinja_filters.cpp), with the argument lists to try: the
# defaults first, then the arguments real templates pass.
FILTERS = {
    "abs": [""],
    "attr": ["('a')"],
    "capitalize": [""],
    "center": ["", "(9)"],
    "count": [""],
    "d": ["", "('dflt')"],
    "default": ["", "('dflt')", "('dflt', true)"],
    "dictsort": ["", "(by='value')"],
    "e": [""],
    "escape": [""],
    "first": [""],
    "float": [""],
    "forceescape": [""],
    "format": ["", "(1)"],
    "indent": ["", "(2, true)"],
    "int": [""],
    "items": [""],
    "join": ["", "(', ')", "(', ', 'a')"],
    "last": [""],
    "length": [""],
    "list": [""],
    "lower": [""],
    "map": ["", "('upper')", "(attribute='a')", "(attribute='a', default=0)"],
    "max": ["", "(attribute='a')"],
    "min": ["", "(attribute='a')"],
    "reject": ["", "('defined')"],
    "rejectattr": ["('a')", "('a', 'defined')"],
    "replace": ["('b', 'z')"],
    "reverse": [""],
    "round": ["", "(1)"],
    "safe": [""],
    "select": ["", "('defined')", "('string')"],
    "selectattr": ["('a')", "('a', 'equalto', 1)"],
    "sort": ["", "(attribute='a')", "(reverse=true)"],
    "string": [""],
    "sum": ["", "(attribute='a')"],
    "title": [""],
    "tojson": ["", "(indent=2)"],
    "trim": ["", "('A')"],
    "unique": [""],
    "upper": [""],
    "wordcount": [""],
}

# Every test of Hearth's table (jinja_tests.cpp), with its argument. The ones named by an
# operator cannot follow `is`; they are reached the way templates reach them, through select.
TESTS = {
    "boolean": "", "callable": "", "defined": "", "divisibleby": "(3)", "eq": "(1)",
    "equalto": "(1)", "escaped": "", "even": "", "false": "", "filter": "", "float": "",
    "ge": "(1)", "greaterthan": "(1)", "gt": "(1)", "in": "([1, 'x', none])", "integer": "",
    "iterable": "", "le": "(1)", "lessthan": "(1)", "lower": "", "lt": "(1)", "mapping": "",
    "ne": "(1)", "none": "", "number": "", "odd": "", "sameas": "(none)", "sequence": "",
    "string": "", "test": "", "true": "", "undefined": "", "upper": "",
}
OPERATOR_TESTS = {"==": "1", "!=": "1", "<": "1", "<=": "1", ">": "1", ">=": "1"}

# Integers past 64 bits: JSON carries them up to 2**64 - 1 (what nlohmann parses exactly), and
# arithmetic takes them further. Python's ints have no bound; Hearth's are exact up to 2**127
# and raise OverflowError past it (KNOWN_DIFFERENCES).
INT_INPUTS = {
    "u64": 2**64 - 1,
    "p63": 2**63,
    "n63": -(2**63),
    "m63": 2**63 - 1,
}
INT_TEMPLATES = [
    "{{ u64 }} {{ p63 }} {{ n63 }} {{ m63 }}",
    "{{ u64 | tojson }} {{ [u64, p63, n63] | tojson }} {{ {'id': u64} | tojson(indent=1) }}",
    "{{ [u64, p63] }} {{ {'id': u64} }} {{ (u64,) }}",
    "{{ u64 | string }} {{ u64 ~ '' }} {{ '%s|%r' % (u64, u64) }} {{ '{}'.format(u64) }}",
    "{{ u64 + 1 }} {{ u64 - 1 }} {{ m63 + 1 }} {{ n63 - 1 }} {{ -n63 }} {{ -u64 }} {{ +p63 }}",
    "{{ p63 * p63 }} {{ n63 * n63 }} {{ u64 * -3 }} {{ u64 * m63 }}",
    "{{ u64 * u64 * u64 }}",
    "{{ u64 // 7 }} {{ u64 % 7 }} {{ -u64 // 7 }} {{ -u64 % 7 }} {{ u64 // -7 }} {{ u64 % -7 }}",
    "{{ n63 // -1 }} {{ n63 % -1 }} {{ u64 // u64 }} {{ 7 // u64 }} {{ -7 // u64 }} {{ -7 % u64 }}",
    "{{ u64 // 0 }}",
    "{{ 2 ** 64 }} {{ 2 ** 100 }} {{ (-2) ** 127 }} {{ 3 ** 80 }} {{ 2 ** 126 - 1 + 2 ** 126 }}",
    "{{ 2 ** 127 }}",
    "{{ u64 / 3 }} {{ u64 / 1 }} {{ p63 / 7 }} {{ 1 / u64 }} {{ u64 / u64 }} {{ (2 ** 100 + 1) / 3 }}",
    "{{ u64 + 0.5 }} {{ u64 * 1.0 }} {{ u64 - 1e19 }} {{ p63 % 10.0 }}",
    "{{ u64 == 18446744073709551615 }} {{ u64 == u64 + 0 }} {{ u64 > p63 }} {{ n63 < 0 }} {{ u64 != p63 }}",
    "{{ p63 == 9223372036854775808.0 }} {{ u64 == 18446744073709551616.0 }} {{ u64 < 18446744073709551616.0 }}",
    "{{ 9007199254740993 == 9007199254740993 * 1.0 }} {{ 9007199254740993 > 9007199254740992.0 }}",
    "{{ 18446744073709551615 }} {{ 170141183460469231731687303715884105727 // 2 }}",
    "{{ '%.30d|%#o|%#X|%-+30x|' % (p63, u64, n63, n63) }}",
    "{{ u64 | abs }} {{ n63 | abs }} {{ u64 | int }} {{ u64 | float }} {{ u64 | round }}",
    "{{ '12345678901234567890123' | int }} {{ '-98765432109876543210' | int }} {{ 1e20 | int }} {{ -1e30 | int }}",
    "{{ '%d|%25d|%-25d|%+d|%025d|% d' % (u64, u64, u64, u64, u64, u64) }} {{ '%i' % n63 }}",
    "{{ '%x|%X|%o|%#x' % (u64, u64, u64, u64) }}",
    "{{ u64 is integer }} {{ u64 is number }} {{ u64 is odd }} {{ u64 is even }} {{ u64 is divisibleby(5) }}",
    "{{ [u64, p63, 1, n63] | sort }} {{ [u64, p63, 1] | max }} {{ [u64, p63, 1] | min }}",
    "{{ [u64, u64, p63, u64 * 1.0] | unique | list }} {{ [u64, 2] | sum }} {{ u64 in [p63, u64] }}",
    "{{ range(p63, p63 + 3) | list }} {{ range(u64, u64 - 4, -2) | list }}",
    "{{ [1, 2, 3][p63] }}|{{ 'abc'[u64] }}|{{ [1, 2, 3][n63:p63] }}",
    "{{ u64 if u64 else 0 }} {{ not u64 }} {{ {u64: 'a'}[u64] }}",
]

# An iterator is printed as a list, anything else as it is.
SHOW = ("{% if r is iterable and r is not string and r is not mapping and r is not sequence %}"
        "{{ r | list }}{% else %}{{ r }}{% endif %}")

# Where Hearth differs from jinja2 on purpose: template -> the reason and Hearth's outcome.
PAST_128_BITS = ("Python's integers have no bound; Hearth's are exact between -2**127 and "
                 "2**127 - 1 and raise OverflowError past them, never a wrong value")
KNOWN_DIFFERENCES = {
    "{{ u64 * u64 * u64 }}": {"reason": PAST_128_BITS, "hearth": {"error": {
        "type": "OverflowError", "message": "integer result too large"}}},
    "{{ 2 ** 127 }}": {"reason": PAST_128_BITS, "hearth": {"error": {
        "type": "OverflowError", "message": "integer result too large"}}},
}


def cases():
    for name, arg_lists in FILTERS.items():
        for args in arg_lists:
            for var in INPUT_NAMES:
                yield f"filter {name}{args}", f"{{% set r = {var} | {name}{args} %}}" + SHOW, var
    for name, args in TESTS.items():
        for var in INPUT_NAMES:
            yield f"test {name}{args}", f"{{{{ {var} is {name}{args} }}}}", var
    for name, arg in OPERATOR_TESTS.items():
        for var in INPUT_NAMES:
            yield (f"test {name} {arg}", f"{{{{ [{var}] | select('{name}', {arg}) | list }}}}",
                   var)


def render(source, inputs=INPUTS):
    try:
        # A fresh copy each time: jinja2's indent extends a list it is given (`s += "\n"`).
        return {"expected": _compile_jinja_template(source).render(**copy.deepcopy(inputs))}
    except Exception as error:  # noqa: BLE001 - every failure is an outcome too
        return {"error": {"type": type(error).__name__, "message": str(error)}}


def main():
    out = []
    for what, source, var in cases():
        case = {"what": what, "input": var, "template": source}
        case.update(render(source))
        if source in KNOWN_DIFFERENCES:
            case["hearth_differs"] = KNOWN_DIFFERENCES[source]
        out.append(case)
    int_cases = []
    for source in INT_TEMPLATES:
        case = {"what": "large integers", "input": "INT_INPUTS", "template": source}
        case.update(render(source, INT_INPUTS))
        if source in KNOWN_DIFFERENCES:
            case["hearth_differs"] = KNOWN_DIFFERENCES[source]
        int_cases.append(case)
    data = {
        "regenerate": ".venv/bin/python scripts/gen-jinja-filter-reference.py",
        "variables": INPUTS,
        "filters": sorted(FILTERS),
        "tests": sorted([*TESTS, *OPERATOR_TESTS]),
        "cases": out,
        "int_variables": INT_INPUTS,
        "int_cases": int_cases,
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    errors = sum("error" in c for c in out)
    print(f"{len(out)} cases ({errors} raise) in {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
