// Copy-on-write B+trees over pages (format: pager/page_format.h).
//
// The tree code does not know where pages live. It reads through a
// TreeReader (a snapshot: verified committed pages; or a write transaction:
// its own dirty pages first) and modifies through a TreeWriter, which hands
// out writable copies (copy-on-write), allocates and frees pages and stores
// values too large for a leaf in overflow extents.
//
// Invariants (checked by db/check.cc): all leaves at the same depth; keys
// strictly increasing within a page and across pages; every key in child i of
// a branch is >= key(i) and < key(i+1); every entry fits in a quarter page.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "manifold/db.h"
#include "manifold/status.h"
#include "pager/header.h"
#include "pager/page_cache.h"
#include "pager/page_format.h"

namespace manifold {

class TreeReader {
 public:
  virtual ~TreeReader() = default;
  virtual uint32_t page_size() const = 0;
  virtual Result<PageBuf> ReadPage(ChildRef ref) = 0;
  // Reads and verifies an overflow value.
  virtual Status ReadOverflow(uint64_t first_page, uint64_t value_bytes, uint32_t checksum,
                              std::string* out) = 0;
};

class TreeWriter : public TreeReader {
 public:
  // Returns a writable buffer for the page, copying it to a new page number
  // first if the transaction does not own it yet (*page_no is updated).
  virtual Result<char*> MakeWritable(ChildRef* ref) = 0;
  // A new, owned, dirty page; *page_no receives its number.
  virtual char* NewPage(uint64_t* page_no) = 0;
  virtual void FreePage(uint64_t page_no) = 0;
  // nullptr unless the page is dirty in this transaction.
  virtual char* DirtyBuffer(uint64_t page_no) = 0;
  virtual Result<uint64_t> WriteOverflow(std::string_view value) = 0;  // first page
  virtual void FreeExtent(uint64_t first_page, uint64_t n_pages) = 0;
};

namespace btree {

// Limits for a given page size.
size_t MaxKeyBytes(uint32_t page_size);
size_t MaxInlineEntryBytes(uint32_t page_size);

// Point lookup. NotFound status if absent.
Status Get(TreeReader& r, const TreeRoot& root, std::string_view key, std::string* value);
// Finds the leaf holding `key` and its index there; NotFound if absent.
Status Locate(TreeReader& r, const TreeRoot& root, std::string_view key, PageBuf* leaf, int* idx);
// More puts for Put to make while it holds a leaf: puts in ascending key
// order (a log replay's run).
class PutFollowers {
 public:
  virtual ~PutFollowers() = default;
  // The next put on offer, if any (the end of the run, a delete or another
  // table: false).
  virtual bool Next(std::string_view* key, std::string_view* value) = 0;
  // The put Next() offered went into the tree.
  virtual void Taken() = 0;
};

// Insert or replace. *existed tells which. With `more`: if the key went into
// its leaf without a split (or, at the tree's right edge, started a new last
// leaf), `more`'s puts that belong in the same leaf follow it there, without
// descending the tree again, as long as each is a new key greater than the
// previous one, below the leaf's upper bound, with an inline value, and fits
// in place. The first that does not is offered again to the
// caller's next Put. Each taken put is a new entry of the tree.
Status Put(TreeWriter& w, TreeRoot* root, std::string_view key, std::string_view value, bool* existed,
           PutFollowers* more = nullptr);
// Removes the key if present; *existed tells whether it was.
Status Delete(TreeWriter& w, TreeRoot* root, std::string_view key, bool* existed);
// Frees every page (and overflow extent) of the tree and empties it.
Status FreeAll(TreeWriter& w, TreeRoot* root);
// Stamps checksums into every dirty page of the tree, children first, and
// into root->root.checksum.
Status Seal(TreeWriter& w, TreeRoot* root, uint64_t generation);

// Decodes a leaf entry's value (inline or overflow); Corruption if `rest` is
// too short for what its tag says.
Status ReadValue(TreeReader& r, std::string_view rest, std::string* out);
// Overflow ref of a leaf entry, if it has one (false if `rest` is too short
// to hold the ref).
bool OverflowOf(std::string_view rest, uint64_t* first_page, uint64_t* value_bytes);

// A position in a tree; the building block of Iterator.
//
// Damaged trees: a scan (Next() or Prev() calls in one direction since the
// last seek or change of direction) reads each page at most once in a real
// tree. A damaged file whose branch pages share subtrees (a DAG; checksums can
// still verify) would make it visit them fanout^depth times, so the cursor
// remembers the branch pages of the current scan and returns Corruption, with
// the page numbers, when one is reached a second time; and it checks that
// keys keep increasing (decreasing for Prev) from one leaf to the next, which
// catches a shared leaf. Shared empty leaves can only be reached once per
// branch entry, so they cost linear time. The bookkeeping starts at the first
// step into another leaf: seeks and scans within one leaf pay nothing.
class Cursor {
 public:
  Cursor(TreeReader* reader, TreeRoot root) : r_(reader), root_(root) {}
  // Forward: first entry >= key. Reverse: last entry <= key.
  Status SeekGE(std::string_view key);
  Status SeekLE(std::string_view key);
  Status SeekFirst();
  Status SeekLast();
  Status Next();
  Status Prev();
  bool Valid() const { return valid_; }
  std::string_view key() const;
  std::string_view rest() const;  // for ReadValue

 private:
  struct Frame {
    PageBuf page;
    int index;
    uint64_t page_no;
  };
  // from_page: the branch whose entry `ref` is (0 for the root).
  Status Descend(ChildRef ref, int height, bool leftmost, uint64_t from_page);
  // Starts tracking a scan in direction `dir` (+1 Next, -1 Prev) unless one
  // in that direction is already tracked: the branch pages on the current
  // path are the first seen.
  void BeginScan(int dir);
  void ResetScan() { scan_dir_ = 0; }
  TreeReader* r_;
  TreeRoot root_;
  std::vector<Frame> stack_;
  bool valid_ = false;
  int scan_dir_ = 0;                          // 0: no scan tracked (after a seek)
  std::unordered_set<uint64_t> scan_branches_;  // branch pages read by the tracked scan
};

}  // namespace btree
}  // namespace manifold
