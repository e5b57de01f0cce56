// Little-endian fixed-width and varint encodings used by every on-disk format.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace manifold {

inline void EncodeU16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void EncodeU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t DecodeU16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t DecodeU32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeU64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "file formats assume a little-endian host");

inline void PutU32(std::string* s, uint32_t v) { char b[4]; EncodeU32(b, v); s->append(b, 4); }
inline void PutU64(std::string* s, uint64_t v) { char b[8]; EncodeU64(b, v); s->append(b, 8); }

// Unsigned LEB128. At most 10 bytes for a uint64_t.
inline char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}
inline void PutVarint(std::string* s, uint64_t v) {
  char b[10];
  s->append(b, EncodeVarint(b, v) - b);
}
// Decodes from [p, limit). Returns nullptr if the input is truncated or too long.
inline const char* DecodeVarint(const char* p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && p < limit; shift += 7) {
    uint64_t byte = static_cast<uint8_t>(*p++);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return p;
    }
  }
  return nullptr;
}
// Length-prefixed string: varint length then bytes.
inline void PutLengthPrefixed(std::string* s, std::string_view v) {
  PutVarint(s, v.size());
  s->append(v);
}
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* out) {
  uint64_t n;
  const char* p = DecodeVarint(in->data(), in->data() + in->size(), &n);
  if (p == nullptr) return false;
  size_t used = static_cast<size_t>(p - in->data());
  if (n > in->size() - used) return false;
  *out = std::string_view(p, n);
  in->remove_prefix(used + n);
  return true;
}

}  // namespace manifold
