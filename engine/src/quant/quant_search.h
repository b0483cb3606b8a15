// The scale searches and packing helpers the row quantizers share (ggml-quants.c's
// make_qx_quants, make_qkx2/3_quants, make_qp_quants, best_index_int8), used
// by the reference quantizers (quantize_k.cpp, quantize_rows.cpp) and the importance-weighted
// ones (quantize_weighted.cpp). Built with -ffp-contract=off, as the quantizers are.
#pragma once

#include "quant/blocks.h"

#include <cstdint>

namespace hearth::quant {

// make_qx_quants with rmse_type 1: a symmetric scale refined over 18 trial inverse scales,
// each value weighted by qw[i] (or x[i]^2 when qw is null). L gets the levels shifted by nmax.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw);

// make_qkx2_quants and make_qkx3_quants (ggml keeps both; with weights given they are the same
// search): an asymmetric scale and min minimising the weighted error, squared or with use_mad
// absolute, over nstep + 1 trial scales (none when nstep < 1). Returns the scale;
// *the_min = -min.
float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                      float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                      bool use_mad);

// make_qp_quants: a positive scale for positive x (sub-block scales or mins), weighted.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// The index of the code-book value nearest to x (ties to the lower), val ascending.
int best_index_int8(int n, const int8_t* val, float x);

// Q2_K and Q3_K store 2-bit values e = 128h + 32k + l in bits 2k of qs[32h + l].
void pack_2bit(const uint8_t* L, uint8_t* qs);

// The end of ggml's Q3_K quantizers (reference and weighted alike), once `block`'s d and 6-bit
// scales are set: each value's level against its sub-block's final scale, clamped to -4..3 and
// stored shifted by 4 in L (a sub-block whose scale is 0 keeps the levels L holds), then the
// high bits into hmask and the low two into qs.
void q3_k_pack_levels(const float* x, int8_t* L, BlockQ3_K& block);

// The 6-bit sub-block scales Ls and mins Lm of a Q4_K / Q5_K super-block (each clamped to 63)
// into its 12 scale bytes, all of which are written.
void pack_k4_scale_bytes(const uint8_t* Ls, const uint8_t* Lm, uint8_t* out);

// The second pass of ggml's Q4_K / Q5_K quantizers (reference and weighted alike): each
// value's level 0..nmax against its sub-block's stored scale and min (a sub-block whose scale
// is 0 keeps the levels L holds).
void k4_levels_from_stored(const float* x, int nmax, uint16_t d_bits, uint16_t dmin_bits,
                           const uint8_t* scale_bytes, uint8_t* L);

// Q4_K's levels 0..15 as nibbles: values 64c .. 64c + 31 low, the next 32 high, in qs[32c ..].
void q4_k_pack_levels(const uint8_t* L, BlockQ4_K& block);

// Q5_K's levels 0..31: the low four bits as Q4_K's, the fifth bit of values 64c + j and
// 64c + 32 + j in bits 2c and 2c + 1 of qh[j].
void q5_k_pack_levels(const uint8_t* L, BlockQ5_K& block);

} // namespace hearth::quant
