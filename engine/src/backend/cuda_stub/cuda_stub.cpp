// The CUDA backend's entry points in a build without CUDA (hearth_cuda_stub, linked in place of
// hearth_cuda): the same functions as engine/src/backend/cuda/, each failing with a `device`
// error that says the build has no CUDA, so that every caller takes its CPU path at run time.
#include "backend/cuda/cuda_forward.h"
#include "hearth/cuda_device.h"

namespace hearth {

namespace {

std::unexpected<Error> built_without_cuda() {
    return fail(ErrorCode::device, "built without CUDA");
}

} // namespace

bool cuda_backend_available() {
    return false;
}

Result<std::vector<CudaDeviceInfo>> list_cuda_devices() {
    return built_without_cuda();
}

Result<void> cuda_dequantize(TensorType, const void*, float*, int64_t) {
    return built_without_cuda();
}

Result<void> cuda_dequantize_f16(TensorType, const void*, uint16_t*, int64_t) {
    return built_without_cuda();
}

Result<double> measure_copy_bandwidth_gbs(int, size_t, int) {
    return built_without_cuda();
}

Result<std::unique_ptr<CudaForward>> CudaForward::create(const Model&, const CudaForwardOptions&) {
    return built_without_cuda();
}

} // namespace hearth
