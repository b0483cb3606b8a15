// hearth-cli's and hearth-bench's catch at the top and terminate handler.
#include "top_level.h"

#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <memory>
#include <new>
#include <typeinfo>

namespace hearth::cli {
namespace {

std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> readable(
        abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
    return status == 0 && readable ? std::string(readable.get()) : std::string(name);
}

std::string& program_name() {
    static std::string name = "hearth";
    return name;
}

// The message for an exception: out of memory is the user's to act on, anything else is a
// bug to report.
void report(std::string_view who, const std::exception_ptr& error) noexcept {
    try {
        bool out_of_memory = false;
        try {
            std::rethrow_exception(error);
        } catch (const std::bad_alloc&) {
            out_of_memory = true;
        } catch (...) {
        }
        const std::string description = describe_exception(error);
        if (out_of_memory) {
            std::fprintf(stderr, "%.*s: out of memory (%s)\n", static_cast<int>(who.size()),
                         who.data(), description.c_str());
        } else {
            std::fprintf(stderr,
                         "%.*s: internal error: %s (this is a bug in Hearth; please report it "
                         "with the command line)\n",
                         static_cast<int>(who.size()), who.data(), description.c_str());
        }
    } catch (...) { // no memory left even for the message
        std::fputs("hearth: internal error (no memory left to describe it)\n", stderr);
    }
}

[[noreturn]] void on_terminate() noexcept {
    if (const std::exception_ptr error = std::current_exception()) {
        report(program_name(), error);
    } else {
        std::fprintf(stderr, "%s: internal error: std::terminate called without an exception\n",
                     program_name().c_str());
    }
    std::fflush(stderr);
    std::_Exit(kFailureExitStatus);
}

} // namespace

std::string describe_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        const std::string type = demangle(typeid(e).name());
        return e.what() == type ? type : type + ": " + e.what(); // std::bad_alloc says only that
    } catch (...) {
        const std::type_info* type = abi::__cxa_current_exception_type();
        return "an exception of type " + (type ? demangle(type->name()) : std::string("unknown"));
    }
}

int run_guarded(std::string_view who, const std::function<int()>& body) {
    try {
        return body();
    } catch (abi::__forced_unwind&) { // thread cancellation must unwind on
        throw;
    } catch (...) {
        report(who, std::current_exception());
        return kFailureExitStatus;
    }
}

void install_terminate_handler(std::string_view program) {
    program_name() = program;
    std::set_terminate(on_terminate);
}

} // namespace hearth::cli
