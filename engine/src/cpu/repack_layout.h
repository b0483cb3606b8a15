// The packed block layouts of repack.h, shared by the repacking code and the kernels.
#pragma once

#include <cstdint>

namespace hearth::cpu {

// One 32-value Q4_0 block of each of 8 consecutive rows. qs holds four 32-byte quads; quad j
// is, for rows 0..7 in turn, the 4 bytes qs[4j..4j+3] of that row's block: their low nibbles
// are quants 4j..4j+3 and their high nibbles quants 16+4j..19+4j. So one 32-byte load gives
// 4 quants of every row, one row per 32-bit lane, and an activation quad broadcast to all
// lanes multiplies all 8 rows at once.
struct BlockQ4_0x8 {
    uint16_t d[8];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_0x8) == 144);

} // namespace hearth::cpu

// One 256-value Q4_K super-block of each of 8 consecutive rows, scales decoded: sc[j][r] and
// mn[j][r] are sub-block j's 6-bit scale and min of row r. qs holds 32 quads: quad 8c + k is,
// for rows 0..7 in turn, the 4 bytes qs[32c + 4k..32c + 4k + 3] of that row's block, whose low
// nibbles are quants 4k.. of sub-block 2c and high nibbles quants 4k.. of sub-block 2c + 1.
struct BlockQ4_Kx8 {
    uint16_t d[8];
    uint16_t dmin[8];
    uint8_t sc[8][8];
    uint8_t mn[8][8];
    uint8_t qs[1024];
};
static_assert(sizeof(BlockQ4_Kx8) == 1184);
