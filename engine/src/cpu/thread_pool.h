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

    // parallel_for with chunks that shrink as the work runs out: each is what is left divided
    // by twice the threads (at two threads, a quarter of the rest), rounded up to a multiple of
    // `grain` (the last may be shorter). For one token's rows (a decode
    // step), where each region is a few microseconds of work: the threads finish within one
    // small chunk of each other, where parallel_for's even chunks leave one waiting for the
    // other's last chunk (an eighth of the region at two threads). The chunks' bounds depend
    // only on n, grain and the thread count, not on which thread takes them.
    void parallel_for_tapered(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn);

private:
    struct State;
    State* state_;
};

// Threads to use by default: the physical cores, at least 1.
int default_thread_count();

} // namespace hearth::cpu
