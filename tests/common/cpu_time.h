// The CPU time a thread has used, for tests that bound the work an operation does (a hostile
// input must stop quickly). Wall-clock bounds fail on a machine busy with other processes;
// the calling thread's CPU time hardly moves with the load.
#pragma once

#include <ctime>

namespace hearth::test {

inline double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Measures from construction: `seconds()` is the CPU time this thread has used since.
class CpuStopwatch {
public:
    double seconds() const { return thread_cpu_seconds() - start_; }

private:
    double start_ = thread_cpu_seconds();
};

} // namespace hearth::test
