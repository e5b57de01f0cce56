// fuzz_page_decode: the page decoders on their own -- structural validation
// (ValidatePage), entry parsing, the fast key accessors, and the B+tree
// cursor, point lookup and value decoding -- over pages that need not come
// from the engine.
//
//   byte 0      page size: 512 << (b % 8)
//   byte 1      flags: bit 0 reseal (recompute page checksums and the child
//               and overflow references between the pages, so that the
//               checksum checks pass and the structure is what gets tested);
//               bit 1 a branch root claims one more level
//   byte 2      search key length (b % 16), then that many key bytes
//   then        up to 4 pages, numbered 2, 3, 4, 5 (zero-padded)
//
// The reader verifies what the engine's pager verifies (stored checksum,
// the checksum in the reference, page number, ValidatePage); everything after
// that is the decoders' job: they must return results or Corruption, never
// crash, loop or read out of bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "btree/btree.h"
#include "fuzz_common.h"

namespace manifold::fuzz {
namespace {

constexpr uint64_t kFirstPage = 2;
constexpr int kMaxSteps = 5000;

class PageSet final : public TreeReader {
 public:
  PageSet(uint32_t ps, std::string image) : ps_(ps), image_(std::move(image)) {}
  uint32_t page_size() const override { return ps_; }
  uint64_t page_limit() const { return image_.size() / ps_; }
  const char* page(uint64_t no) const { return image_.data() + no * ps_; }

  Result<PageBuf> ReadPage(ChildRef ref) override {
    if (ref.page < kFirstPage || ref.page >= page_limit()) return Status::Corruption("page out of range");
    const char* p = page(ref.page);
    uint32_t stored = page::StoredChecksum(p);
    if (stored != page::ComputeChecksum(p, ps_) || stored != ref.checksum) return Status::Corruption("checksum");
    if (page::PageNo(p) != ref.page) return Status::Corruption("misdirected");
    if (!ValidatePage(p, ps_)) return Status::Corruption("malformed page");
    PageBuf buf = NewPageBuf(ps_);
    std::memcpy(buf.get(), p, ps_);
    return buf;
  }

  Status ReadOverflow(uint64_t first_page, uint64_t value_bytes, uint32_t checksum, std::string* out) override {
    uint64_t n_pages = (value_bytes + ps_ - 1) / ps_;
    if (first_page < kFirstPage || first_page + n_pages > page_limit() || first_page + n_pages < first_page) {
      return Status::Corruption("overflow out of range");
    }
    out->assign(page(first_page), value_bytes);
    if (crc32c::Mask(crc32c::Value(*out)) != checksum) return Status::Corruption("overflow checksum");
    return Status::Ok();
  }

 private:
  uint32_t ps_;
  std::string image_;
};

void Walk(PageSet& pages, const TreeRoot& root, const std::string& key) {
  std::string value;
  {
    btree::Cursor c(&pages, root);
    Status s = c.SeekFirst();
    for (int i = 0; s.ok() && c.Valid() && i < kMaxSteps; i++) {
      (void)c.key();
      Status v = btree::ReadValue(pages, c.rest(), &value);
      (void)v;
      s = c.Next();
    }
  }
  {
    btree::Cursor c(&pages, root);
    Status s = c.SeekLast();
    for (int i = 0; s.ok() && c.Valid() && i < kMaxSteps; i++) {
      (void)c.key();
      s = c.Prev();
    }
  }
  {
    btree::Cursor c(&pages, root);
    Status s = c.SeekGE(key);
    if (s.ok() && c.Valid()) s = c.Next();
    s = c.SeekLE(key);
    if (s.ok() && c.Valid()) s = c.Prev();
  }
  Status g = btree::Get(pages, root, key, &value);
  (void)g;
}

// ValidatePage on every page; on a page it accepts, the checked decoder
// (ParseEntry) and the fast one the tree code uses (KeyAt, LowerBound,
// ChildIndex) must agree and stay inside the page.
void ParseAll(const PageSet& pages, const std::string& key) {
  const uint32_t ps = pages.page_size();
  for (uint64_t no = kFirstPage; no < pages.page_limit(); no++) {
    const char* p = pages.page(no);
    const uint32_t count = page::Count(p);
    if (page::Type(p) == PageType::kFreelist) {
      if (kFreelistFixedBytes + 8ull * count <= ps) {
        for (uint32_t i = 0; i < count; i++) (void)DecodeU64(p + kFreelistFixedBytes + 8 * i);
      }
      continue;
    }
    if (!ValidatePage(p, ps)) continue;
    for (uint32_t i = 0; i < count; i++) {
      EntryView e;
      if (!ParseEntry(p, ps, static_cast<int>(i), &e)) Die("ValidatePage accepted a page whose entry does not parse");
      if (KeyAt(p, static_cast<int>(i)) != e.key) Die("KeyAt and ParseEntry disagree on a validated page");
      uint64_t first, bytes;
      (void)btree::OverflowOf(e.rest, &first, &bytes);
    }
    const int lb = LowerBound(p, key);
    if (lb < 0 || lb > static_cast<int>(count)) Die("LowerBound out of range");
    if (page::Type(p) == PageType::kBranch && count > 0) {
      const int ci = ChildIndex(p, key);
      if (ci < 0 || ci >= static_cast<int>(count)) Die("ChildIndex out of range");
    }
  }
}

}  // namespace
}  // namespace manifold::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  using namespace manifold::fuzz;
  if (size < 3 || size > 300000) return 0;
  const uint32_t ps = 512u << (data[0] % 8);
  const uint8_t flags = data[1];
  size_t pos = 3;
  const size_t key_len = std::min<size_t>(data[2] % 16, size - pos);
  std::string key(reinterpret_cast<const char*>(data + pos), key_len);
  pos += key_len;
  const size_t rest = size - pos;
  const uint64_t n_pages = std::clamp<uint64_t>((rest + ps - 1) / ps, 1, 4);
  // Image: two unused pages (so that page numbers match offsets), then the pages.
  std::string image((kFirstPage + n_pages) * ps, '\0');
  std::memcpy(image.data() + kFirstPage * ps, data + pos, std::min<size_t>(rest, n_pages * ps));
  if ((flags & 1) != 0) {
    EncodeU32(image.data() + 12, ps);  // Reseal reads the page size from the first header slot
    Reseal(&image);
  }
  PageSet pages(ps, std::move(image));
  ParseAll(pages, key);
  const char* root_page = pages.page(kFirstPage);
  TreeRoot root;
  root.root = ChildRef{kFirstPage, page::StoredChecksum(root_page)};
  root.depth = page::Type(root_page) == PageType::kBranch ? 2 + ((flags >> 1) & 1) : 1;
  root.entries = page::Count(root_page);
  Walk(pages, root, key);
  return 0;
}
