// The write-ahead log: a logical redo log shared by all column families
// (docs/format/wal.md).
//
// A record carries the complete logical effect of one committed transaction
// (puts, deletes, table and column family operations, by name), so replay
// never depends on data-file pages that a checkpoint did not make durable.
//
// File layout ("NAME-wal"):
//   [0, 4096)   header: magic "MFLDWAL1", u32 version, u32 reserved, u64 salt,
//               u64 start_lsn, u64 database_id, u32 masked CRC32C of bytes [0, 40)
//   [4096, ...) records, each 8-byte aligned:
//               u32 payload_bytes, u32 masked CRC32C of [8, 32 + payload_bytes),
//               u64 lsn, u64 salt, u64 synced_lsn, payload, zero padding to 8 bytes
// synced_lsn is the newest LSN known to be on stable storage when the record
// was written. Recovery uses it to tell a record lost with its unsynced group
// (a torn tail, even if later unsynced records reached the disk) from damage
// to a record that had been synced (an error: acknowledged data is gone).
// The log is preallocated and recycled: a reset writes a new salt, so records
// of an earlier cycle no longer match and read as the end of the log.
//
// Thread-safety: WalWriter is used under the database's commit_mu;
// ReadWal runs before the database is shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/db.h"
#include "manifold/storage.h"
#include "util/big_buffer.h"
#include "util/coding.h"

namespace manifold {

inline constexpr char kWalMagic[8] = {'M', 'F', 'L', 'D', 'W', 'A', 'L', '1'};
inline constexpr uint32_t kWalVersion = 1;
inline constexpr uint64_t kWalHeaderBytes = 4096;
inline constexpr uint64_t kWalRecordHeaderBytes = 32;
inline constexpr uint64_t kWalRecordBytesMax = uint64_t{1} << 30;  // larger transactions commit by checkpoint

// Logical operations inside a record's payload.
enum class WalOp : uint8_t {
  kPut = 1,           // cf, table, key, value
  kDelete = 2,        // cf, table, key
  kCreateTable = 3,   // cf, table
  kDropTable = 4,     // cf, table
  kClearTable = 5,    // cf, table
  kRenameTable = 6,   // cf, from, to
  kCreateCf = 7,      // cf
  kDropCf = 8,        // cf
  kRenameCf = 9,      // from, to
};

// Accumulates the operations of one transaction.
class WalBatch {
 public:
  void Add(WalOp op, std::string_view a, std::string_view b = {}, std::string_view c = {},
           std::string_view d = {});
  bool empty() const { return count_ == 0; }
  uint64_t count() const { return count_; }
  size_t bytes() const { return ops_.size(); }
  // Savepoints: the batch as it was.
  std::pair<size_t, uint64_t> Mark() const { return {ops_.size(), count_}; }
  void Truncate(std::pair<size_t, uint64_t> mark) {
    ops_.resize(mark.first);
    count_ = mark.second;
  }
  void Clear() {
    ops_.clear();
    count_ = 0;
  }
  // Payload: varint op count, then the operations.
  std::string Payload() const;
  // The payload's size, and the payload written to `out` (PayloadBytes() bytes).
  size_t PayloadBytes() const { return VarintLength(count_) + ops_.size(); }
  void WritePayload(char* out) const;

 private:
  std::string ops_;
  uint64_t count_ = 0;
};

struct WalOperation {
  WalOp op;
  std::string_view a, b, c, d;  // fields, in the order listed on WalOp
};
// Decodes a payload; Corruption if malformed.
Status DecodeWalPayload(std::string_view payload, std::vector<WalOperation>* ops);

// Encodes a full record (header, payload, padding).
std::string EncodeWalRecord(uint64_t lsn, uint64_t salt, uint64_t synced_lsn, std::string_view payload);
// Whether the record at `r` (its header and `payload_bytes` of payload) has an intact checksum.
bool WalRecordChecksumOk(const char* r, uint64_t payload_bytes);

struct WalHeader {
  uint64_t salt = 0;
  uint64_t start_lsn = 1;
  uint64_t database_id = 0;
  std::string Encode() const;  // kWalHeaderBytes bytes
  static bool Decode(const char* p, size_t n, WalHeader* out);
};



struct WalRecord {
  uint64_t lsn;
  uint64_t offset;
  std::string_view payload;  // into WalScanResult::payload_arena (ScanWalInPlace: into the scanned data)
};

struct WalScanResult {
  WalScanResult() = default;
  // Records point into payload_arena: a copy would point into the original.
  WalScanResult(const WalScanResult&) = delete;
  WalScanResult& operator=(const WalScanResult&) = delete;
  WalScanResult(WalScanResult&&) = default;
  WalScanResult& operator=(WalScanResult&&) = default;

  std::vector<WalRecord, HugePageAllocator<WalRecord>> records;  // valid records, in order (large: huge pages)
  std::unique_ptr<char[]> payload_arena;  // every record's payload, back to back (one allocation)
  uint64_t end_offset = kWalHeaderBytes;  // where the next record goes
  uint64_t next_lsn = 1;
  uint64_t bytes = 0;            // record bytes read
  uint64_t skipped = 0;          // corrupt records skipped (kSkipCorrupted)
  bool torn_tail = false;        // the log ended in a damaged record (ignored)
  bool header_valid = false;
  WalHeader header;
};

// Reads every record of the log `data` (the whole file) per `mode`.
Status ScanWal(std::string_view data, const std::string& path, WalRecoveryMode mode, WalScanResult* out);
// The same, without the copy: records point into `data`, which must outlive
// them (recovery keeps the log it read until replay ends).
Status ScanWalInPlace(std::string_view data, const std::string& path, WalRecoveryMode mode, WalScanResult* out);

// Appends records to the log file. REQUIRES: the database's commit_mu.
class WalWriter {
 public:
  WalWriter(std::shared_ptr<File> file, uint64_t preallocate_bytes)
      : file_(std::move(file)), preallocate_bytes_(preallocate_bytes) {}
  // Starts a new cycle: new salt, records from `start_lsn`, synced.
  Status Reset(uint64_t salt, uint64_t start_lsn, uint64_t database_id);
  // Continues an existing log after recovery: the next record goes at
  // `end_offset` with LSN `next_lsn`, in the cycle of `h`.
  Status Resume(const WalHeader& h, uint64_t end_offset, uint64_t next_lsn) {
    MANIFOLD_ASSIGN_OR_RETURN(file_bytes_, file_->Size());
    header_ = h;
    offset_ = end_offset;
    next_lsn_ = next_lsn;
    zeroed_to_ = end_offset;
    unsynced_ = false;
    return Status::Ok();
  }
  // Writes the records of `n` transactions, with consecutive LSNs, in one
  // write; returns the first LSN. Not synced. `synced_lsn`: see above. On
  // failure nothing is appended: the next Append writes at the same offset
  // with the same LSNs. A failed write may still have put some of the records
  // on the file whole, and a shorter later append could leave the 2nd..nth
  // of them readable behind its own records, so they are overwritten with
  // zeros; if that fails too, damaged() is set and the caller must stop
  // writing (the database is poisoned, as after a failed sync).
  Result<uint64_t> Append(const WalBatch* const* batches, size_t n, uint64_t synced_lsn);
  Result<uint64_t> Append(const WalBatch& batch, uint64_t synced_lsn) {
    const WalBatch* one = &batch;
    return Append(&one, 1, synced_lsn);
  }
  bool damaged() const { return damaged_; }
  Status Sync();
  uint64_t next_lsn() const { return next_lsn_; }
  void SkipLsn() { next_lsn_++; }  // Mutant::kLsnGapAcrossFamilies only
  uint64_t last_lsn() const { return next_lsn_ - 1; }
  uint64_t bytes() const { return offset_ - kWalHeaderBytes; }  // record bytes in this cycle
  bool unsynced() const { return unsynced_; }
  File& file() { return *file_; }

 private:
  std::shared_ptr<File> file_;
  uint64_t preallocate_bytes_;
  WalHeader header_;
  uint64_t offset_ = kWalHeaderBytes;
  uint64_t next_lsn_ = 1;
  uint64_t file_bytes_ = 0;
  // Log space is preallocated with Resize (posix_fallocate: unwritten
  // extents on ext4 and XFS). The first write into an unwritten block makes
  // the next fdatasync also write the extent metadata, so Append writes zeros
  // ahead of the records, kZeroAheadBytes at a time: the records then
  // overwrite blocks that are already written, and most syncs write one data
  // block and nothing else. Bytes in [offset_, zeroed_to_) were written by
  // this writer (zeros); zeroing never starts below offset_.
  static constexpr uint64_t kZeroAheadBytes = uint64_t{1} << 20;
  uint64_t zeroed_to_ = kWalHeaderBytes;
  bool unsynced_ = false;
  bool damaged_ = false;
  std::string buffer_;  // the records of one Append, kept for the next one's
};

}  // namespace manifold
