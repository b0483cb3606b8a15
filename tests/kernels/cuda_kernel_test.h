// Helpers shared by the CUDA kernel tests (tests/kernels/tst_cuda_*.cpp): the skip-or-fail
// decision when there is no device, device buffers that are poisoned (NaN) before each run,
// and random inputs.
#pragma once

#include "hearth/cuda_device.h"

#include <QtTest>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime_api.h>
#include <random>
#include <vector>

namespace cuda_test {

// In initTestCase: QSKIP "skipped: no CUDA device: <reason>" without a usable device, or
// QFAIL when HEARTH_REQUIRE_CUDA is set (scripts/gpu-check sets it: there, a skip is a failure).
#define CUDA_TEST_REQUIRE_DEVICE()                                                                 \
    do {                                                                                           \
        const auto devices_ = hearth::list_cuda_devices();                                         \
        if (!devices_) {                                                                           \
            QCOMPARE(devices_.error().code, hearth::ErrorCode::device);                            \
            QVERIFY(!devices_.error().message.empty());                                            \
            const QString reason_ = QString::fromStdString(devices_.error().message);              \
            const QString message_ = reason_.startsWith("no CUDA device")                          \
                                         ? "skipped: " + reason_                                   \
                                         : "skipped: no CUDA device: " + reason_;                  \
            if (std::getenv("HEARTH_REQUIRE_CUDA")) {                                              \
                QFAIL(qPrintable("HEARTH_REQUIRE_CUDA is set but " + message_));                   \
            }                                                                                      \
            QSKIP(qPrintable(message_));                                                           \
        }                                                                                          \
    } while (false)

#define CUDA_VERIFY(call)                                                                          \
    do {                                                                                           \
        const cudaError_t status_ = (call);                                                        \
        QVERIFY2(status_ == cudaSuccess,                                                           \
                 qPrintable(QStringLiteral(#call ": ") +                                           \
                            QString::fromUtf8(cudaGetErrorString(status_))));                      \
    } while (false)

// Device memory of n elements of T, freed on scope exit. fill NaN bytes (0xff) before a run
// so that an element a kernel fails to write shows up in the comparison.
template <class T>
class DeviceArray {
public:
    explicit DeviceArray(size_t n) : n_(n) {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes()) != cudaSuccess) {
            cudaGetLastError();
            p = nullptr;
        }
        ptr_ = static_cast<T*>(p);
    }
    // A device copy of `host`: as many elements, uploaded. ok() is false when the allocation
    // or the copy failed.
    explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
        if (ptr_ != nullptr && upload(host) != cudaSuccess) {
            cudaGetLastError();
            cudaFree(ptr_);
            ptr_ = nullptr;
        }
    }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() {
        if (ptr_ != nullptr) {
            cudaFree(ptr_);
        }
    }
    T* get() const { return ptr_; }
    bool ok() const { return ptr_ != nullptr; }
    size_t bytes() const { return n_ * sizeof(T) + (n_ == 0 ? 1 : 0); }
    cudaError_t upload(const T* host, size_t n) {
        return cudaMemcpy(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice);
    }
    cudaError_t upload(const std::vector<T>& host) { return upload(host.data(), host.size()); }
    cudaError_t poison() { return cudaMemset(ptr_, 0xff, bytes()); }
    cudaError_t download(std::vector<T>& host) const {
        std::vector<T> copy(
            n_ == 0 ? 1 : n_); // (resize() of an empty vector trips GCC 12's -Wnull-dereference)
        const cudaError_t status =
            cudaMemcpy(copy.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
        copy.resize(n_);
        host = std::move(copy);
        return status;
    }

private:
    T* ptr_ = nullptr;
    size_t n_ = 0;
};

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> out(n);
    for (float& v : out) {
        v = dist(rng);
    }
    return out;
}

// Index and values of the first element where |got - want| > bound(i), or of a NaN; empty
// when all agree.
template <class Bound>
QString first_mismatch(const std::vector<float>& got, const std::vector<double>& want,
                       Bound bound) {
    for (size_t i = 0; i < want.size(); ++i) {
        const double diff = std::abs(double(got[i]) - want[i]);
        if (!(diff <= bound(i))) { // NaN fails
            return QStringLiteral("element %1: got %2, want %3 (|diff| %4 > bound %5)")
                .arg(i)
                .arg(double(got[i]), 0, 'g', 9)
                .arg(want[i], 0, 'g', 9)
                .arg(diff, 0, 'g', 3)
                .arg(bound(i), 0, 'g', 3);
        }
    }
    return {};
}

} // namespace cuda_test
