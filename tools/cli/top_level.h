// The last line of defence of hearth-cli and hearth-bench: whatever a command throws (it should
// return errors as values; a throw is a bug), the process prints the cause and exits with
// status 1 instead of aborting through std::terminate.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace hearth::cli {

// The exit status of a command that failed, reported or caught.
constexpr int kFailureExitStatus = 1;

// One line about an exception: its type and what() ("std::bad_alloc: out of memory").
std::string describe_exception(const std::exception_ptr& error);

// Runs `body`; if it throws, prints "<who>: internal error: <description>" on stderr and
// returns kFailureExitStatus. `who` names the program and command ("hearth-cli run").
int run_guarded(std::string_view who, const std::function<int()>& body);

// From now on, std::terminate (an exception escaping a worker thread or a noexcept function)
// prints "<program>: internal error: <description>" and exits with kFailureExitStatus rather
// than aborting.
void install_terminate_handler(std::string_view program);

} // namespace hearth::cli
