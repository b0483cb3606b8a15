// A hook that sees the input activations of every CPU matrix product, for collecting an
// importance matrix (hearth-cli imatrix, lab/imatrix_collect.cpp). Off unless installed: then
// matmul() pays one relaxed atomic load and a branch per call (not per token or row).
#pragma once

#include "cpu/matmul.h"

#include <cstdint>

namespace hearth::cpu {

class ActivationObserver {
public:
    virtual ~ActivationObserver() = default;
    // Called at the start of matmul(w, x, ...): n_tokens rows of w.n_cols floats, x_stride
    // floats apart. May be called from any thread that runs a forward pass.
    virtual void observe(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                         MatmulOp op) = 0;
};

// Installs `observer` process-wide (null removes it). The caller keeps it alive until removed
// and runs no forward pass of another model meanwhile.
void set_activation_observer(ActivationObserver* observer);

} // namespace hearth::cpu
