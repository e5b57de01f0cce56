// The input format of fuzz_api_ops, shared with the corpus generator.
//
//   byte 0      configuration: bits 0-1 page size (512, 1024, 4096, 512),
//               bit 2 write-ahead log off (when the engine has one),
//               bit 3 storage through faultfs (FaultStorage over memory), which
//               kOpCrashImage needs
//   then        operations until the input ends: an opcode byte (modulo
//               kOpCount) followed by its arguments.
//
// Arguments:
//   table   1 byte: "t0", "t1", "t2"
//   cf      1 byte: "default", "c1", "c2", "" (invalid name)
//   key     1 byte b, then:  b >= 0xf8: a key of KeyBytesMax(page size) - 1 + (b & 3) bytes 'K'
//                            b & 0x80:  (b & 0x0f) raw bytes follow
//                            else:      (b & 0x07) bytes follow, each mapped to one of "abc\x00\xff"
//   value   1 byte b, then:  b >= 0xf0: 2 more bytes (fill, scale): a value of
//                                       scale * 3 * page size / 255 + 1 bytes of `fill`
//                            else:      (b & 0x1f) raw bytes follow
//   bound   1 byte kind (modulo 3: unbounded, included, excluded), then a key unless unbounded
//
// Missing bytes read as zero, so every input decodes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace manifold::fuzz {

enum ApiOp : uint8_t {
  kOpBegin = 0,         // cf
  kOpPut = 1,           // table key value
  kOpDelete = 2,        // table key
  kOpGet = 3,           // table key
  kOpRange = 4,         // table bound bound flags(bit0 reverse, bit1 seek + key, bit2 prefix: lower key is the prefix)
  kOpCommit = 5,        // flags(bit0: kNone)
  kOpAbort = 6,         //
  kOpSavepoint = 7,     //
  kOpRestore = 8,       // index (modulo the number of live savepoints)
  kOpCreateTable = 9,   // table
  kOpDropTable = 10,    // table
  kOpClearTable = 11,   // table
  kOpRenameTable = 12,  // table table
  kOpCfOp = 13,         // sub(modulo 3: create, drop, rename) cf cf
  kOpReopen = 14,       //
  kOpPowerLoss = 15,    //
  kOpSync = 16,         //
  kOpReadGet = 17,      // cf table key  (read transaction: committed state)
  kOpCheck = 18,        //
  kOpPutMany = 19,      // table count start
  kOpCheckpoint = 20,   //
  kOpSnapshot = 21,     // sub(modulo 3: take, verify, release)
  kOpCrashImage = 22,   // seed(2 bytes) policy(modulo 3: mixed, torn only, garbage only); only with config bit 3
  kOpCount = 23,
};

// Builders used by make_corpus (the fuzzer itself only decodes).
struct OpWriter {
  std::string out;
  explicit OpWriter(uint8_t config) { out.push_back(static_cast<char>(config)); }
  OpWriter& Op(ApiOp op) {
    out.push_back(static_cast<char>(op));
    return *this;
  }
  OpWriter& Byte(uint8_t b) {
    out.push_back(static_cast<char>(b));
    return *this;
  }
  OpWriter& Table(int t) { return Byte(static_cast<uint8_t>(t)); }
  OpWriter& Cf(int c) { return Byte(static_cast<uint8_t>(c)); }
  // A raw key (up to 15 bytes).
  OpWriter& Key(std::string_view k) {
    Byte(static_cast<uint8_t>(0x80 | (k.size() & 0x0f)));
    out.append(k.substr(0, k.size() & 0x0f));
    return *this;
  }
  OpWriter& Value(std::string_view v) {
    Byte(static_cast<uint8_t>(v.size() & 0x1f));
    out.append(v.substr(0, v.size() & 0x1f));
    return *this;
  }
  OpWriter& LongValue(uint8_t fill, uint8_t scale) { return Byte(0xf0).Byte(fill).Byte(scale); }
};

}  // namespace manifold::fuzz
