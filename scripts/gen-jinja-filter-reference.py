#!/usr/bin/env python3
"""Generates tests/data/templates/filter_matrix.json: what Python jinja2 does with every filter
and test Hearth's interpreter implements, on None, Undefined, empty, string, mapping, list and
number inputs, in the environment Hugging Face's apply_chat_template uses (transformers' own
_compile_jinja_template). tst_jinja_fidelity renders the same cases and compares.

Run from the repository root (needs the virtual environment with jinja2 and transformers):
    .venv/bin/python scripts/gen-jinja-filter-reference.py

Each case is a template, the variables of INPUTS, and the outcome: the rendered text, or the
exception's class and message. A filter's result is printed as is, except an iterator
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

# An iterator is printed as a list, anything else as it is.
SHOW = ("{% if r is iterable and r is not string and r is not mapping and r is not sequence %}"
        "{{ r | list }}{% else %}{{ r }}{% endif %}")

# Where Hearth differs from jinja2 on purpose: (template, reason).
KNOWN_DIFFERENCES = {}


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


def render(source):
    try:
        # A fresh copy each time: jinja2's indent extends a list it is given (`s += "\n"`).
        return {"expected": _compile_jinja_template(source).render(**copy.deepcopy(INPUTS))}
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
    data = {
        "regenerate": ".venv/bin/python scripts/gen-jinja-filter-reference.py",
        "variables": INPUTS,
        "filters": sorted(FILTERS),
        "tests": sorted([*TESTS, *OPERATOR_TESTS]),
        "cases": out,
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    errors = sum("error" in c for c in out)
    print(f"{len(out)} cases ({errors} raise) in {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
