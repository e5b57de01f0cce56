// fuzz_wal_record_decode: the write-ahead log's record and payload decoders
// on their own (the rest of recovery is fuzz_wal_replay's).
//
//   byte 0      flags: bit 0 recompute the record checksum (bytes 4..7) so
//               that the payload decoder is reached through the scanner;
//               bit 1 recovery mode kAbsoluteConsistency (else the default)
//   byte 1..    one record as the log holds it: u32 payload_bytes, u32
//               checksum, u64 lsn, u64 salt, u64 synced_lsn, payload
//
// Checked:
//  - DecodeWalPayload on the bytes after the record header: OK, or
//    kCorruption with a message. What it decodes re-encodes (WalBatch) to a
//    payload that decodes to the same operations.
//  - EncodeWalRecord of that payload gives a record whose checksum verifies,
//    and a log of it scans back to exactly that payload and LSN.
//  - ScanWal over a log header (salt and start LSN matching the record) and
//    the input record (zero-padded to 8 bytes): never crashes; every record
//    it returns is exactly what the log holds at its offset, with a verifying
//    checksum, the first at the log's start; anything else is a torn tail
//    (default mode) or an error with a message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal.h"

namespace manifold::fuzz {
namespace {

bool SameOps(const std::vector<WalOperation>& x, const std::vector<WalOperation>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); i++) {
    if (x[i].op != y[i].op || x[i].a != y[i].a || x[i].b != y[i].b || x[i].c != y[i].c || x[i].d != y[i].d) {
      return false;
    }
  }
  return true;
}

// Decodes `payload`; on success checks the re-encoding round trip.
void FuzzPayload(std::string_view payload) {
  // Exact-size heap copy, so that ASan sees any read past the payload.
  std::unique_ptr<char[]> exact(new char[payload.size() + 1]);
  std::memcpy(exact.get(), payload.data(), payload.size());
  std::string_view p(exact.get(), payload.size());
  std::vector<WalOperation> ops;
  Status s = DecodeWalPayload(p, &ops);
  if (!s.ok()) {
    if (s.code() != Status::Code::kCorruption || s.message().empty()) Die("payload decode: " + s.ToString());
    return;
  }
  WalBatch batch;
  for (const WalOperation& o : ops) batch.Add(o.op, o.a, o.b, o.c, o.d);
  const std::string again = batch.Payload();
  std::vector<WalOperation> back;
  Status b = DecodeWalPayload(again, &back);
  if (!b.ok()) Die("re-encoded payload does not decode: " + b.ToString());
  if (!SameOps(ops, back)) Die("payload round trip changed an operation");

  // A well-formed record of it scans back whole.
  constexpr uint64_t kSalt = 0x5eed5eed5eedull, kLsn = 7;
  WalHeader h;
  h.salt = kSalt;
  h.start_lsn = kLsn;
  h.database_id = 1;
  const std::string record = EncodeWalRecord(kLsn, kSalt, kLsn - 1, again);
  if (!WalRecordChecksumOk(record.data(), again.size())) Die("encoded record fails its own checksum");
  const std::string log = h.Encode() + record;
  WalScanResult r;
  Status sc = ScanWal(log, "fuzz-wal", WalRecoveryMode::kAbsoluteConsistency, &r);
  if (!sc.ok()) Die("scan of a well-formed record failed: " + sc.ToString());
  if (r.records.size() != 1 || r.records[0].lsn != kLsn || r.records[0].payload != again) {
    Die("scan of a well-formed record did not return it");
  }
}

void FuzzRecord(const uint8_t* data, size_t size) {
  const uint8_t flags = data[0];
  std::string rec(reinterpret_cast<const char*>(data + 1), size - 1);
  if (rec.size() < kWalRecordHeaderBytes) rec.resize(kWalRecordHeaderBytes, '\0');
  const uint64_t declared = DecodeU32(rec.data());
  const uint64_t lsn = DecodeU64(rec.data() + 8);
  const uint64_t salt = DecodeU64(rec.data() + 16);
  const uint64_t available = rec.size() - kWalRecordHeaderBytes;
  const uint64_t payload_bytes = std::min(declared, available);
  if ((flags & 1) != 0 && declared <= available) {
    // The checksum covers [8, 32 + payload): everything after itself.
    EncodeU32(rec.data() + 4, crc32c::Mask(crc32c::Value(rec.data() + 8, 24 + declared)));
  }
  FuzzPayload(std::string_view(rec.data() + kWalRecordHeaderBytes, payload_bytes));

  // The record as the log holds it, behind a header that matches its salt/LSN.
  WalHeader h;
  h.salt = salt == 0 ? 1 : salt;
  h.start_lsn = lsn == 0 ? 1 : lsn;
  h.database_id = 1;
  std::string log = h.Encode() + rec;
  log.resize((log.size() + 7) / 8 * 8, '\0');  // records are 8-byte aligned
  const WalRecoveryMode mode = (flags & 2) != 0 ? WalRecoveryMode::kAbsoluteConsistency : WalRecoveryMode::kTolerateTornTail;
  WalScanResult r;
  Status s = ScanWal(log, "fuzz-wal", mode, &r);
  if (!s.ok()) {
    if (s.message().empty()) Die("scan failed without a message");
    return;
  }
  // Every record returned is exactly what the log holds at its offset (the
  // input, its zero padding, and whatever records the input carries after
  // its first), with a verifying checksum; the first starts the log.
  if (!r.records.empty() && r.records[0].offset != kWalHeaderBytes) Die("the scan's first record is not at the log's start");
  for (const WalRecord& w : r.records) {
    if (w.offset < kWalHeaderBytes || w.offset + kWalRecordHeaderBytes > log.size()) Die("scan returned a record outside the log");
    const char* at = log.data() + w.offset;
    const uint64_t n = DecodeU32(at);
    if (w.offset + kWalRecordHeaderBytes + n > log.size() || DecodeU64(at + 8) != w.lsn ||
        w.payload != std::string_view(at + kWalRecordHeaderBytes, n)) {
      Die("scan returned a record that is not what the log holds at its offset");
    }
    if (!WalRecordChecksumOk(at, n)) Die("scan returned a record whose checksum fails");
  }
}

}  // namespace
}  // namespace manifold::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  manifold::fuzz::FuzzRecord(data, size);
  return 0;
}
