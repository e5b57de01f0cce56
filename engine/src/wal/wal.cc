#include "wal/wal.h"
#include "util/mutant.h"

#include <algorithm>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"

namespace manifold {

void WalBatch::Add(WalOp op, std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
  ops_.push_back(static_cast<char>(op));
  PutLengthPrefixed(&ops_, a);
  switch (op) {
    case WalOp::kPut:
      PutLengthPrefixed(&ops_, b);
      PutLengthPrefixed(&ops_, c);
      PutLengthPrefixed(&ops_, d);
      break;
    case WalOp::kDelete:
    case WalOp::kRenameTable:
      PutLengthPrefixed(&ops_, b);
      PutLengthPrefixed(&ops_, c);
      break;
    case WalOp::kCreateTable:
    case WalOp::kDropTable:
    case WalOp::kClearTable:
    case WalOp::kRenameCf:
      PutLengthPrefixed(&ops_, b);
      break;
    case WalOp::kCreateCf:
    case WalOp::kDropCf:
      break;
  }
  count_++;
}

std::string WalBatch::Payload() const {
  std::string p(PayloadBytes(), '\0');
  WritePayload(p.data());
  return p;
}

void WalBatch::WritePayload(char* out) const {
  out = EncodeVarint(out, count_);
  if (!ops_.empty()) std::memcpy(out, ops_.data(), ops_.size());
}

Status DecodeWalPayload(std::string_view payload, std::vector<WalOperation>* ops) {
  uint64_t n;
  const char* q = DecodeVarint(payload.data(), payload.data() + payload.size(), &n);
  if (q == nullptr) return Status::Corruption("WAL record: bad operation count");
  std::string_view in(q, payload.size() - (q - payload.data()));
  ops->clear();
  for (uint64_t i = 0; i < n; i++) {
    if (in.empty()) return Status::Corruption("WAL record: truncated operation " + std::to_string(i));
    WalOperation o{};
    o.op = static_cast<WalOp>(in[0]);
    in.remove_prefix(1);
    int fields;
    switch (o.op) {
      case WalOp::kPut: fields = 4; break;
      case WalOp::kDelete:
      case WalOp::kRenameTable: fields = 3; break;
      case WalOp::kCreateTable:
      case WalOp::kDropTable:
      case WalOp::kClearTable:
      case WalOp::kRenameCf: fields = 2; break;
      case WalOp::kCreateCf:
      case WalOp::kDropCf: fields = 1; break;
      default: return Status::Corruption("WAL record: unknown operation " + std::to_string(static_cast<int>(o.op)));
    }
    std::string_view* f[4] = {&o.a, &o.b, &o.c, &o.d};
    for (int k = 0; k < fields; k++) {
      if (!GetLengthPrefixed(&in, f[k])) return Status::Corruption("WAL record: truncated operation " + std::to_string(i));
    }
    ops->push_back(o);
  }
  if (!in.empty()) return Status::Corruption("WAL record: trailing bytes after the operations");
  if (ops->size() > (uint64_t{1} << 40)) return Status::Corruption("WAL record: too many operations");
  return Status::Ok();
}

namespace {

uint64_t Padded(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

uint32_t RecordChecksum(const char* record, uint64_t payload_bytes) {
  return crc32c::Mask(crc32c::Value(record + 8, kWalRecordHeaderBytes - 8 + payload_bytes));
}

}  // namespace

bool WalRecordChecksumOk(const char* r, uint64_t payload_bytes) {
  if (MutantIs(Mutant::kAcceptBadRecordChecksum)) return true;
  return DecodeU32(r + 4) == RecordChecksum(r, payload_bytes);
}

namespace {

// Fills in the header of the record at `r`, whose payload of `payload_bytes`
// is in place behind it, and zeroes its padding.
void SealWalRecord(char* r, uint64_t lsn, uint64_t salt, uint64_t synced_lsn, uint64_t payload_bytes) {
  const uint64_t end = kWalRecordHeaderBytes + payload_bytes;
  std::memset(r + end, 0, Padded(end) - end);
  EncodeU32(r, static_cast<uint32_t>(payload_bytes));
  EncodeU64(r + 8, lsn);
  EncodeU64(r + 16, salt);
  EncodeU64(r + 24, synced_lsn);
  EncodeU32(r + 4, RecordChecksum(r, payload_bytes));
}

}  // namespace

std::string EncodeWalRecord(uint64_t lsn, uint64_t salt, uint64_t synced_lsn, std::string_view payload) {
  std::string r(Padded(kWalRecordHeaderBytes + payload.size()), '\0');
  if (!payload.empty()) std::memcpy(r.data() + kWalRecordHeaderBytes, payload.data(), payload.size());
  SealWalRecord(r.data(), lsn, salt, synced_lsn, payload.size());
  return r;
}

std::string WalHeader::Encode() const {
  std::string h(kWalHeaderBytes, '\0');
  std::memcpy(h.data(), kWalMagic, 8);
  EncodeU32(h.data() + 8, kWalVersion);
  EncodeU64(h.data() + 16, salt);
  EncodeU64(h.data() + 24, start_lsn);
  EncodeU64(h.data() + 32, database_id);
  EncodeU32(h.data() + 40, crc32c::Mask(crc32c::Value(h.data(), 40)));
  return h;
}

bool WalHeader::Decode(const char* p, size_t n, WalHeader* out) {
  if (n < 44 || std::memcmp(p, kWalMagic, 8) != 0 || DecodeU32(p + 8) != kWalVersion) return false;
  if (DecodeU32(p + 40) != crc32c::Mask(crc32c::Value(p, 40))) return false;
  out->salt = DecodeU64(p + 16);
  out->start_lsn = DecodeU64(p + 24);
  out->database_id = DecodeU64(p + 32);
  return out->start_lsn >= 1;
}

namespace {

// The first 8-byte word at or after `at` (in steps of 8) that is not zero, or
// a position within 8 bytes of the end. The log is preallocated: behind its
// last record there are usually megabytes of zeros, in which the search for
// valid records after a gap (below) would otherwise test every word.
uint64_t SkipZeroWords(std::string_view data, uint64_t at) {
  static constexpr char kZeros[4096] = {};
  while (at + sizeof kZeros <= data.size() && std::memcmp(data.data() + at, kZeros, sizeof kZeros) == 0) {
    at += sizeof kZeros;
  }
  while (at + 8 <= data.size() && DecodeU64(data.data() + at) == 0) at += 8;
  return at;
}

// ScanWal without the final copy: records point into `data`.
Status ScanWalRecords(std::string_view data, const std::string& path, WalRecoveryMode mode, WalScanResult* out) {
  if (!WalHeader::Decode(data.data(), data.size(), &out->header)) {
    // No valid header: a new log, or a reset torn by a crash. A reset is
    // synced before any record of its cycle is written, so no acknowledged
    // record can be behind a damaged header.
    return Status::Ok();
  }
  out->header_valid = true;
  const uint64_t salt = out->header.salt;
  uint64_t expected = out->header.start_lsn;
  uint64_t off = kWalHeaderBytes;
  // What a record at `at` looks like: 0 = end (zeros or another cycle),
  // 1 = valid, 2 = damaged (this cycle's salt, but wrong checksum/LSN/length).
  auto classify = [&](uint64_t at, uint64_t want_lsn, bool any_lsn, uint64_t* payload_bytes, uint64_t* lsn) -> int {
    if (at + kWalRecordHeaderBytes > data.size()) return 0;
    const char* r = data.data() + at;
    *payload_bytes = DecodeU32(r);
    *lsn = DecodeU64(r + 8);
    if (DecodeU64(r + 16) != salt) return 0;
    if (at + kWalRecordHeaderBytes + *payload_bytes > data.size()) return 2;
    if (!WalRecordChecksumOk(r, *payload_bytes)) return 2;
    if (!any_lsn && *lsn != want_lsn) return 2;
    return 1;
  };
  while (true) {
    uint64_t payload_bytes = 0, lsn = 0;
    int kind = classify(off, expected, false, &payload_bytes, &lsn);
    if (kind == 1) {
      // The payload stays in `data` for now; copied into the arena at the end.
      out->records.push_back(WalRecord{lsn, off, data.substr(off + kWalRecordHeaderBytes, payload_bytes)});
      uint64_t len = Padded(kWalRecordHeaderBytes + payload_bytes);
      out->bytes += len;
      off += len;
      expected++;
      continue;
    }
    // The end of the log (zeros, or a record of an earlier cycle) or a damaged
    // record. Is anything valid of this cycle behind it -- and did any such
    // record know that the missing one had been synced?
    uint64_t next_off = 0, next_payload = 0, next_lsn = 0;
    bool was_synced = false;
    for (uint64_t at = off + 8; at + kWalRecordHeaderBytes <= data.size(); at += 8) {
      if (const uint64_t word = DecodeU64(data.data() + at + 16); word != salt) {
        // A zero word is no record's salt (unless the salt is zero): go on
        // from the next word that is not zero.
        if (word == 0 && salt != 0) at = SkipZeroWords(data, at + 16) - 24;
        continue;
      }
      uint64_t pb = 0, l = 0;
      if (classify(at, 0, true, &pb, &l) != 1 || l < expected) continue;
      if (next_off == 0) {
        next_off = at;
        next_payload = pb;
        next_lsn = l;
      }
      if (DecodeU64(data.data() + at + 24) >= expected) {
        was_synced = true;
        break;
      }
    }
    (void)next_payload;
    if (kind == 0 && next_off == 0) break;  // the clean end of the log
    // Records behind a gap that was never synced were themselves never
    // synced (a sync covers everything written before it): the crash lost
    // that group, whatever order its writes reached the disk in.
    if (!was_synced && mode != WalRecoveryMode::kSkipCorrupted) next_off = 0;
    std::string where = path + ": WAL record LSN " + std::to_string(expected) + " at offset " + std::to_string(off);
    if (next_off == 0) {
      // Nothing valid follows: a torn tail, the normal result of a crash.
      if (mode == WalRecoveryMode::kAbsoluteConsistency) {
        return Status::Corruption(where + " is damaged (torn tail); absolute-consistency recovery refuses it");
      }
      out->torn_tail = true;
      break;
    }
    switch (mode) {
      case WalRecoveryMode::kTolerateTornTail:
      case WalRecoveryMode::kAbsoluteConsistency:
        return Status::Corruption(where + " is damaged but valid records (LSN " + std::to_string(next_lsn) +
                                  " at offset " + std::to_string(next_off) +
                                  ") follow it: acknowledged commits would be lost. Open with "
                                  "WalRecoveryMode::kPointInTime or kSkipCorrupted to accept that");
      case WalRecoveryMode::kPointInTime:
        out->torn_tail = true;
        break;
      case WalRecoveryMode::kSkipCorrupted:
        out->skipped++;
        off = next_off;
        expected = next_lsn;
        continue;
    }
    break;
  }
  out->end_offset = off;
  out->next_lsn = expected;
  return Status::Ok();
}

}  // namespace

Status ScanWalInPlace(std::string_view data, const std::string& path, WalRecoveryMode mode, WalScanResult* out) {
  *out = WalScanResult{};
  return ScanWalRecords(data, path, mode, out);
}

Status ScanWal(std::string_view data, const std::string& path, WalRecoveryMode mode, WalScanResult* out) {
  Status s = ScanWalInPlace(data, path, mode, out);
  // One copy of all payloads (also on error: the records before the damage
  // stay usable), so that the caller may drop `data`. No allocation per record.
  size_t total = 0;
  for (const WalRecord& r : out->records) total += r.payload.size();
  out->payload_arena.reset(new char[total == 0 ? 1 : total]);  // not zero-filled: every byte is copied over
  char* at = out->payload_arena.get();
  for (WalRecord& r : out->records) {
    if (!r.payload.empty()) std::memcpy(at, r.payload.data(), r.payload.size());
    r.payload = std::string_view(at, r.payload.size());
    at += r.payload.size();
  }
  return s;
}

Status WalWriter::Reset(uint64_t salt, uint64_t start_lsn, uint64_t database_id) {
  header_ = WalHeader{salt, start_lsn, database_id};
  MANIFOLD_ASSIGN_OR_RETURN(file_bytes_, file_->Size());
  if (file_bytes_ < kWalHeaderBytes + preallocate_bytes_) {
    MANIFOLD_RETURN_IF_ERROR(file_->Resize(kWalHeaderBytes + preallocate_bytes_));
    file_bytes_ = kWalHeaderBytes + preallocate_bytes_;
  }
  MANIFOLD_RETURN_IF_ERROR(file_->Write(0, header_.Encode()));
  MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  offset_ = kWalHeaderBytes;
  next_lsn_ = start_lsn;
  unsynced_ = false;
  damaged_ = false;  // what it could not erase belongs to the old cycle: its salt no longer matches
  return Status::Ok();
}

Result<uint64_t> WalWriter::Append(const WalBatch* const* batches, size_t n, uint64_t synced_lsn) {
  if (damaged_) return Status::IOError(file_->path() + ": an earlier failed write left records that could not be erased");
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const uint64_t payload = batches[i]->PayloadBytes();
    if (payload > kWalRecordBytesMax) {
      return Status::InvalidArgument("WAL record of " + std::to_string(payload) + " bytes exceeds the limit");
    }
    total += Padded(kWalRecordHeaderBytes + payload);
  }
  if (offset_ + total > file_bytes_) {
    // Grow ahead of need so that most syncs do not also change the file size.
    uint64_t target = std::max(file_bytes_ * 2, offset_ + total + preallocate_bytes_);
    MANIFOLD_RETURN_IF_ERROR(file_->Resize(target));
    file_bytes_ = target;
  }
  if (offset_ + total > zeroed_to_) {
    // Zeros ahead (see wal.h), from the end of the log: never over a record.
    // They lie beyond every record, so losing them in a crash loses nothing,
    // and a record written over them later is later in program order.
    uint64_t from = std::max(zeroed_to_, offset_);
    uint64_t to = std::min(file_bytes_, std::max(offset_ + total, from + kZeroAheadBytes));
    if (to > from) {
      std::string zeros(to - from, '\0');
      MANIFOLD_RETURN_IF_ERROR(file_->Write(from, zeros));
    }
    zeroed_to_ = to;
  }
  buffer_.resize(total);
  char* r = buffer_.data();
  for (size_t i = 0; i < n; i++) {
    const uint64_t payload = batches[i]->PayloadBytes();
    batches[i]->WritePayload(r + kWalRecordHeaderBytes);
    SealWalRecord(r, next_lsn_ + i, header_.salt, synced_lsn, payload);
    r += Padded(kWalRecordHeaderBytes + payload);
  }
  Status s = file_->Write(offset_, std::string_view(buffer_.data(), total));
  if (!s.ok()) {
    if (n > 1) {
      std::memset(buffer_.data(), 0, total);
      if (!file_->Write(offset_, std::string_view(buffer_.data(), total)).ok()) damaged_ = true;
    }
    return s;
  }
  offset_ += total;
  unsynced_ = true;
  const uint64_t first = next_lsn_;
  next_lsn_ += n;
  return first;
}

Status WalWriter::Sync() {
  if (!unsynced_) return Status::Ok();
  MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  unsynced_ = false;
  return Status::Ok();
}

}  // namespace manifold
