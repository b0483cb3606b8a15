// cuBLAS for prefill, loaded lazily (see cublas_prefill.h). The types and the function
// signatures come from the toolkit's headers (decltype of the declarations); the functions
// themselves from dlsym, so nothing links against libcublas.
#include "backend/cuda/cublas_prefill.h"

#include "backend/cuda/cuda_check.h"
#include "convert.cuh"
#include "dequantize.cuh"
#include "hearth/tensor_type.h"

#include <algorithm>
#include <cublas_v2.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <mutex>
#include <string>

namespace hearth::cuda_detail {

struct CublasPrefill::Api {
    void* library = nullptr;
    decltype(&cublasCreate_v2) create = nullptr;
    decltype(&cublasDestroy_v2) destroy = nullptr;
    decltype(&cublasSetStream_v2) set_stream = nullptr;
    // (cublasGemmEx is overloaded in C++; this is the 32-bit-size C entry point.)
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const void*, const void*, cudaDataType, int, const void*,
                              cudaDataType, int, const void*, void*, cudaDataType, int,
                              cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
    decltype(&cublasGetStatusString) status_string = nullptr;
};

namespace {

std::string status_text(const decltype(&cublasGetStatusString) fn, cublasStatus_t status) {
    return fn != nullptr ? fn(status) : fmt::format("cuBLAS status {}", int(status));
}

// The process-wide library, loaded on first use; the error is kept so that every caller gets
// the same reason.
Result<const CublasPrefill::Api*> load_api_once() {
    static std::once_flag once;
    static CublasPrefill::Api api;
    static std::string error;
    std::call_once(once, [] {
        std::string tried;
        for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
            api.library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
            if (api.library != nullptr) {
                break;
            }
            const char* why = dlerror();
            tried +=
                fmt::format("{}{}: {}", tried.empty() ? "" : "; ", name, why ? why : "not found");
        }
        if (api.library == nullptr) {
            error = "cuBLAS not found (" + tried + ")";
            return;
        }
        auto sym = [](const char* name) { return dlsym(api.library, name); };
        api.create = reinterpret_cast<decltype(api.create)>(sym("cublasCreate_v2"));
        api.destroy = reinterpret_cast<decltype(api.destroy)>(sym("cublasDestroy_v2"));
        api.set_stream = reinterpret_cast<decltype(api.set_stream)>(sym("cublasSetStream_v2"));
        api.gemm_ex = reinterpret_cast<decltype(api.gemm_ex)>(sym("cublasGemmEx"));
        api.status_string =
            reinterpret_cast<decltype(api.status_string)>(sym("cublasGetStatusString"));
        if (!api.create || !api.destroy || !api.set_stream || !api.gemm_ex) {
            error = "the cuBLAS library lacks cublasCreate_v2 / cublasSetStream_v2 / cublasGemmEx";
        }
    });
    if (!error.empty()) {
        return fail(ErrorCode::unsupported, error);
    }
    return &api;
}

} // namespace

Result<std::unique_ptr<CublasPrefill>> CublasPrefill::create(cudaStream_t stream,
                                                             size_t tile_bytes) {
    auto api = load_api_once();
    if (!api) {
        return std::unexpected(api.error());
    }
    std::unique_ptr<CublasPrefill> p(new CublasPrefill());
    p->api_ = *api;
    p->stream_ = stream;
    p->tile_bytes_ = std::max<size_t>(tile_bytes, 1 << 16);
    cublasHandle_t handle = nullptr;
    if (const cublasStatus_t s = p->api_->create(&handle); s != CUBLAS_STATUS_SUCCESS) {
        return fail(ErrorCode::device, "cublasCreate: " + status_text(p->api_->status_string, s));
    }
    p->handle_ = handle;
    if (const cublasStatus_t s = p->api_->set_stream(handle, stream); s != CUBLAS_STATUS_SUCCESS) {
        return fail(ErrorCode::device,
                    "cublasSetStream: " + status_text(p->api_->status_string, s));
    }
    void* tile = nullptr;
    HEARTH_CUDA_TRY(
        cudaMalloc(&tile, p->tile_bytes_),
        fmt::format("cudaMalloc({} bytes for the prefill weight tile)", p->tile_bytes_));
    p->w_tile_ = static_cast<uint16_t*>(tile);
    return p;
}

CublasPrefill::~CublasPrefill() {
    if (handle_ != nullptr) {
        api_->destroy(static_cast<cublasHandle_t>(handle_));
    }
    if (w_tile_ != nullptr) {
        cudaFree(w_tile_);
    }
    if (x16_ != nullptr) {
        cudaFree(x16_);
    }
}

Result<void> CublasPrefill::ensure_x_capacity(size_t elements) {
    if (elements <= x_capacity_) {
        return {};
    }
    if (x16_ != nullptr) {
        // Earlier products may still read it: wait for them before freeing.
        HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        HEARTH_CUDA_TRY(cudaFree(x16_), "cudaFree");
        x16_ = nullptr;
        x_capacity_ = 0;
    }
    void* p = nullptr;
    HEARTH_CUDA_TRY(cudaMalloc(&p, elements * sizeof(uint16_t)),
                    fmt::format("cudaMalloc({} F16 activations)", elements));
    x16_ = static_cast<uint16_t*>(p);
    x_capacity_ = elements;
    return {};
}

Result<void> CublasPrefill::matmul(int type, const void* w, size_t row_bytes, int64_t n_rows,
                                   int64_t n_cols, const float* x, int64_t n_tokens, float* y,
                                   int64_t y_stride) {
    const auto traits = tensor_type_traits(static_cast<uint32_t>(type));
    if (!traits || !kernels::can_launch_dequantize(type)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("no GPU dequantizer for tensor type id {}", type));
    }
    if (n_rows <= 0 || n_cols <= 0 || n_tokens <= 0 || n_cols % traits->block_size != 0 ||
        row_bytes != size_t(n_cols / traits->block_size) * traits->type_size || y_stride < n_rows ||
        n_rows > INT32_MAX || n_cols > INT32_MAX || n_tokens > INT32_MAX || w == nullptr ||
        x == nullptr || y == nullptr) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("prefill matmul: bad shape ({} x {} weights of {}, {} tokens)",
                                n_rows, n_cols, traits->name, n_tokens));
    }
    if (auto ok = ensure_x_capacity(size_t(n_tokens * n_cols)); !ok) {
        return ok;
    }
    HEARTH_CUDA_TRY(kernels::launch_convert_f32_to_f16(x, x16_, n_tokens * n_cols, stream_),
                    "launch_convert_f32_to_f16");
    const int64_t tile_rows =
        std::max<int64_t>(1, int64_t(tile_bytes_ / (size_t(n_cols) * sizeof(uint16_t))));
    const float alpha = 1.0f, beta = 0.0f;
    for (int64_t r0 = 0; r0 < n_rows; r0 += tile_rows) {
        const int64_t rows = std::min(tile_rows, n_rows - r0);
        if (size_t(rows * n_cols) * sizeof(uint16_t) > tile_bytes_) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("prefill matmul: a row of {} values exceeds the {}-byte tile",
                                    n_cols, tile_bytes_));
        }
        HEARTH_CUDA_TRY(kernels::launch_dequantize_f16(
                            type, static_cast<const uint8_t*>(w) + size_t(r0) * row_bytes, w_tile_,
                            rows * n_cols, stream_),
                        "launch_dequantize_f16");
        // Column-major view: the tile is a (n_cols x rows) matrix, X a (n_cols x n_tokens) one;
        // C = tile^T X is (rows x n_tokens), column t at y + t * y_stride + r0.
        const cublasStatus_t s =
            api_->gemm_ex(static_cast<cublasHandle_t>(handle_), CUBLAS_OP_T, CUBLAS_OP_N, int(rows),
                          int(n_tokens), int(n_cols), &alpha, w_tile_, CUDA_R_16F, int(n_cols),
                          x16_, CUDA_R_16F, int(n_cols), &beta, y + r0, CUDA_R_32F, int(y_stride),
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (s != CUBLAS_STATUS_SUCCESS) {
            return fail(ErrorCode::device,
                        fmt::format("cublasGemmEx({} x {} x {}): {}", rows, n_tokens, n_cols,
                                    status_text(api_->status_string, s)));
        }
    }
    return {};
}

} // namespace hearth::cuda_detail
