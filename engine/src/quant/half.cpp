// IEEE binary16 and bfloat16 conversions of the public API (hearth/quant.h): the bit-exact
// routines of quant/block_layout.h, which the CUDA kernels compile too, so that host and
// device convert every input, NaN payloads included, as numpy's software routines do.
#include "hearth/quant.h"
#include "quant/block_layout.h"

namespace hearth {

float fp16_to_fp32(uint16_t bits) {
    return quant::fp16_bits_to_fp32(bits);
}

uint16_t fp32_to_fp16(float value) {
    return quant::fp32_to_fp16_bits(value);
}

float bf16_to_fp32(uint16_t bits) {
    return quant::bf16_bits_to_fp32(bits);
}

} // namespace hearth
