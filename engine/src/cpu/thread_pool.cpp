// The thread pool: workers created once, woken per job by a generation counter.
//
// Hand-off: `generation` is odd while a job is open and even while none is. The caller
// publishes the job and bumps `generation` to odd; workers spin on it for up to kSpinTime (a
// decode step issues a job every few microseconds, and a futex wake-up costs tens), then
// sleep on a condition variable. A worker enters a job by incrementing `inside` and checking
// that `generation` still holds the odd value it saw: open and current are one atomic fact,
// so a worker late for one job can neither run the next one early nor run it twice (with a
// separate "open" flag it could, between the flag and the bump, and run() then waited
// forever for a count that had gone below zero). run() waits for every worker (`pending`);
// parallel_for() only for the chunks, so on a machine busy with other processes the caller
// takes the chunks of a worker that is not scheduled. Either way the caller then closes the
// job (bumps `generation` to even) and waits until no worker is inside it before returning.
#include "cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace hearth::cpu {
namespace {

constexpr auto kSpinTime = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

} // namespace

struct ThreadPool::State {
    int n_threads = 1;
    std::vector<std::thread> workers;

    // The job: written by the caller before `generation` turns odd, while no worker is inside.
    const std::function<void(int, int)>* job = nullptr;
    bool every_thread = false; // run(): each worker must take part; parallel_for(): optional
    std::atomic<uint64_t> generation{0}; // odd: a job is open; even: none is
    std::atomic<int> inside{0};          // workers between entering and leaving a job
    std::atomic<int> pending{0};         // run(): workers yet to finish
    std::atomic<bool> stop{false};

    // parallel_for's loop: chunks handed out from `next`, loop_chunk items each, or with
    // parallel_for_tapered (loop_tapered) sized by tapered_chunk().
    const std::function<void(int64_t, int64_t)>* loop = nullptr;
    std::atomic<int64_t> next{0};
    int64_t loop_n = 0;
    int64_t loop_chunk = 1;
    bool loop_tapered = false;

    // The tapered chunk that starts at `begin`: (loop_n - begin) / (2 n_threads), rounded up
    // to a multiple of loop_chunk (the grain).
    int64_t tapered_chunk(int64_t begin) const {
        const int64_t share = (loop_n - begin + 2 * n_threads - 1) / (2 * n_threads);
        return (share + loop_chunk - 1) / loop_chunk * loop_chunk;
    }

    // The next chunk [begin, end) of the loop, false when none is left.
    bool take_chunk(int64_t& begin, int64_t& end) {
        if (!loop_tapered) {
            begin = next.fetch_add(loop_chunk, std::memory_order_relaxed);
            end = std::min(loop_n, begin + loop_chunk);
            return begin < loop_n;
        }
        begin = next.load(std::memory_order_relaxed);
        do {
            if (begin >= loop_n) {
                return false;
            }
            end = std::min(loop_n, begin + tapered_chunk(begin));
        } while (!next.compare_exchange_weak(begin, end, std::memory_order_relaxed));
        return true;
    }

    // parallel_for / parallel_for_tapered: [0, n) in chunks of at least `grain` over every
    // thread (on the caller alone when one chunk holds it all).
    void run_loop(int64_t n, int64_t grain, bool tapered,
                  const std::function<void(int64_t, int64_t)>& fn) {
        if (n <= 0) {
            return;
        }
        grain = std::max<int64_t>(grain, 1);
        if (n_threads == 1 || n <= grain) {
            fn(0, n);
            return;
        }
        // Chunks handed out in order from a shared counter, so that a thread slowed by
        // another process does not hold everyone up; workers that arrive after the caller has
        // taken every chunk skip the job (the caller does not wait for them). Even chunks:
        // about four per thread. Tapered: each chunk's size a function of where it starts
        // (tapered_chunk; a compare-and-swap claims it).
        loop = &fn;
        loop_n = n;
        loop_chunk = tapered ? grain : std::max(grain, (n + 4 * n_threads - 1) / (4 * n_threads));
        loop_tapered = tapered;
        next.store(0, std::memory_order_relaxed);
        const std::function<void(int, int)> take_chunks = [this](int, int) {
            for (int64_t begin = 0, end = 0; take_chunk(begin, end);) {
                (*loop)(begin, end);
            }
        };
        start_and_join(take_chunks, false);
    }

    std::mutex mutex;
    std::condition_variable wake;
    std::atomic<int> sleeping{0};

    void worker_loop(int index) {
        uint64_t seen = 0;
        for (;;) {
            uint64_t now = generation.load(std::memory_order_acquire);
            if (now == seen) {
                now = wait_for_job(seen);
            }
            if (stop.load(std::memory_order_acquire)) {
                return;
            }
            seen = now;
            if ((now & 1) == 0) {
                continue; // a job was closed: wait for the next one
            }
            // Enter, then check the job is still the one announced: a worker that comes late
            // to a parallel_for the caller has already finished and closed leaves untouched.
            inside.fetch_add(1, std::memory_order_seq_cst);
            if (generation.load(std::memory_order_seq_cst) == now) {
                (*job)(index, n_threads);
                if (every_thread) {
                    pending.fetch_sub(1, std::memory_order_acq_rel);
                }
            }
            inside.fetch_sub(1, std::memory_order_release);
        }
    }

    // Spins, then sleeps, until the generation moves past `seen` (or stop is set).
    uint64_t wait_for_job(uint64_t seen) {
        const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
        for (int i = 0;; ++i) {
            const uint64_t now = generation.load(std::memory_order_acquire);
            if (now != seen || stop.load(std::memory_order_relaxed)) {
                return now;
            }
            cpu_relax();
            if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) {
                break;
            }
        }
        std::unique_lock lock(mutex);
        sleeping.fetch_add(1, std::memory_order_seq_cst);
        wake.wait(lock, [&] {
            return generation.load(std::memory_order_seq_cst) != seen ||
                   stop.load(std::memory_order_seq_cst);
        });
        sleeping.fetch_sub(1, std::memory_order_relaxed);
        return generation.load(std::memory_order_acquire);
    }

    // Wakes sleeping workers after `generation` or `stop` changed. A worker that increments
    // `sleeping` after our load re-checks the predicate under the mutex and sees the change.
    void notify() {
        if (sleeping.load(std::memory_order_seq_cst) > 0) {
            { std::lock_guard lock(mutex); }
            wake.notify_all();
        }
    }

    // Publishes `fn` as the current job and runs the caller's share (thread 0).
    void start_and_join(const std::function<void(int, int)>& fn, bool all) {
        job = &fn;
        every_thread = all;
        pending.store(all ? n_threads - 1 : 0, std::memory_order_relaxed);
        generation.fetch_add(1, std::memory_order_seq_cst); // odd: open
        notify();
        fn(0, n_threads);
        spin_until([&] { return pending.load(std::memory_order_acquire) == 0; });
        // Close the job, then wait out the workers inside it: after this no worker touches
        // `fn` or the loop state, which live only as long as this call.
        generation.fetch_add(1, std::memory_order_seq_cst); // even: closed
        spin_until([&] { return inside.load(std::memory_order_seq_cst) == 0; });
    }

    template <class Done>
    static void spin_until(Done done) {
        for (int i = 0; !done(); ++i) {
            if (i < 4096) {
                cpu_relax();
            } else {
                std::this_thread::yield();
            }
        }
    }
};

ThreadPool::ThreadPool(int n_threads) : state_(new State) {
    state_->n_threads = std::max(1, n_threads);
    state_->workers.reserve(static_cast<size_t>(state_->n_threads - 1));
    for (int i = 1; i < state_->n_threads; ++i) {
        state_->workers.emplace_back([this, i] { state_->worker_loop(i); });
    }
}

ThreadPool::~ThreadPool() {
    state_->stop.store(true, std::memory_order_seq_cst);
    state_->notify();
    for (std::thread& worker : state_->workers) {
        worker.join();
    }
    delete state_;
}

int ThreadPool::size() const {
    return state_->n_threads;
}

void ThreadPool::run(const std::function<void(int thread_index, int n_threads)>& fn) {
    if (state_->n_threads == 1) {
        fn(0, 1);
        return;
    }
    state_->start_and_join(fn, true);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
    state_->run_loop(n, grain, false, fn);
}

void ThreadPool::parallel_for_tapered(int64_t n, int64_t grain,
                                      const std::function<void(int64_t, int64_t)>& fn) {
    state_->run_loop(n, grain, true, fn);
}

namespace {

// CPUs this process may run on (its affinity mask), 0 when unknown.
int allowed_cpus() {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return CPU_COUNT(&set);
    }
#endif
    return 0;
}

// Distinct (package, core) pairs among the CPUs listed in /sys, 0 when unreadable.
int physical_cores_from_sys() {
    std::set<std::pair<int, int>> cores;
    for (int cpu = 0; cpu < 4096; ++cpu) {
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream package_file(dir + "physical_package_id");
        std::ifstream core_file(dir + "core_id");
        int package = 0, core = 0;
        if (!(package_file >> package) || !(core_file >> core)) {
            break;
        }
        cores.emplace(package, core);
    }
    return static_cast<int>(cores.size());
}

// Distinct ("physical id", "core id") pairs in /proc/cpuinfo, 0 when absent.
int physical_cores_from_cpuinfo() {
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<int, int>> cores;
    int package = 0;
    std::string line;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
        const std::string value = line.substr(colon + 1);
        if (key == "physical id") {
            package = std::atoi(value.c_str());
        } else if (key == "core id") {
            cores.emplace(package, std::atoi(value.c_str()));
        }
    }
    return static_cast<int>(cores.size());
}

} // namespace

int default_thread_count() {
    static const int count = [] {
        int cores = physical_cores_from_sys();
        if (cores <= 0) {
            cores = physical_cores_from_cpuinfo();
        }
        if (cores <= 0) {
            cores = static_cast<int>(std::thread::hardware_concurrency());
        }
        if (const int allowed = allowed_cpus(); allowed > 0) {
            cores = std::min(cores, allowed);
        }
        return std::max(cores, 1);
    }();
    return count;
}

} // namespace hearth::cpu
