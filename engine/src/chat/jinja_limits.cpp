// The bounds a render keeps on its own thread (jinja_value.h): the work budget every operation
// charges, the size of text being built, and the nesting of values walked recursively.
#include "chat/jinja_value.h"

#include <algorithm>
#include <cstdint>

namespace hearth::jinja {

namespace {

thread_local size_t t_nesting = 0;
thread_local size_t t_max_text = SIZE_MAX;
thread_local uint64_t t_work_max = UINT64_MAX; // UINT64_MAX: no budget, charges are free
thread_local uint64_t t_work_used = 0;

} // namespace

NestingGuard::NestingGuard(const char* what) {
    if (t_nesting >= kMaxValueNesting) {
        raise("RecursionError", std::string("maximum recursion depth exceeded") + what);
    }
    ++t_nesting;
}

NestingGuard::~NestingGuard() {
    --t_nesting;
}

TextLimitScope::TextLimitScope(size_t max_bytes) : previous_(t_max_text) {
    t_max_text = max_bytes;
}

TextLimitScope::~TextLimitScope() {
    t_max_text = previous_;
}

WorkBudget::WorkBudget(uint64_t max_units)
    : previous_max_(t_work_max), previous_used_(t_work_used) {
    t_work_max = std::min<uint64_t>(max_units, UINT64_MAX - 1);
    t_work_used = 0;
}

WorkBudget::~WorkBudget() {
    t_work_max = previous_max_;
    t_work_used = previous_used_;
}

void charge_work(uint64_t units) {
    if (t_work_max == UINT64_MAX) {
        return;
    }
    // Saturating: a charge computed from a huge count must not wrap around to a small one.
    t_work_used = units > UINT64_MAX - t_work_used ? UINT64_MAX : t_work_used + units;
    if (t_work_used > t_work_max) {
        t_work_used = t_work_max; // later charges (while unwinding) fail the same way
        raise("TemplateRuntimeError",
              "template rendering exceeded its work budget (" + std::to_string(t_work_max) +
                  " units of work: loop iterations, expressions, and the text and items "
                  "they handle)");
    }
}

void check_list_size(size_t items) {
    if (items > kMaxListItems) {
        raise("MemoryError", "list is too large (" + std::to_string(items) + " items, more than " +
                                 std::to_string(kMaxListItems) + ")");
    }
}

void charge_items(size_t items) {
    charge_work(items > UINT64_MAX / kWorkPerItem ? UINT64_MAX : items * kWorkPerItem);
}

void check_text_size(const std::string& text) {
    check_text_size(text.size());
}

void check_text_size(size_t bytes) {
    if (bytes > t_max_text) {
        raise("TemplateRuntimeError",
              "rendered output is too large (more than " + std::to_string(t_max_text) + " bytes)");
    }
}

} // namespace hearth::jinja
