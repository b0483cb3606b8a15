// The GGML block formats for the CPU code: the layouts, code books and scale decoders are
// those of quant/block_layout.h, the one header the CPU engine and the CUDA kernels share.
// (Kept as the CPU files' include so that they need no edit.)
#pragma once

#include "quant/block_layout.h"
