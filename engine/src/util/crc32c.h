// CRC32C (Castagnoli), the one checksum family of the file format: page,
// header slot and overflow-value checksums all use it. Uses the SSE4.2 crc32
// instruction when the CPU has it, a slicing-by-8 table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace manifold::crc32c {

// Extends `crc` (the value of an earlier call, or 0 to start) over data[0, n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// Stored checksums are masked so that a checksum of data that itself embeds
// checksums does not degenerate (as LevelDB does).
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace manifold::crc32c
