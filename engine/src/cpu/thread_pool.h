// A fixed pool of worker threads, created once, that runs data-parallel loops.
#pragma once

#include <cstdint>
#include <functional>

namespace hearth::cpu {

// Runs `parallel_for` jobs on `n_threads` threads (the calling thread is one of them).
// Not reentrant: one job at a time; call from one thread (the engine's). Workers spin
// briefly then sleep between jobs, so a decode step does not pay a wake-up per matmul.
class ThreadPool {
public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const;

    // Calls fn(thread_index, n_threads) once on each thread and waits for all.
    void run(const std::function<void(int thread_index, int n_threads)>& fn);

    // Splits [0, n) into contiguous chunks of at least `grain` items and calls
    // fn(begin, end) for each, on all threads; waits for all.
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

private:
    struct State;
    State* state_;
};

// Threads to use by default: the physical cores, at least 1.
int default_thread_count();

} // namespace hearth::cpu
