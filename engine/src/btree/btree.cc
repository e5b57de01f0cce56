#include "btree/btree.h"

#include <algorithm>
#include <cassert>

namespace manifold::btree {
namespace {

// An entry moving up the tree (a separator for a new page): owns its bytes.
struct Entry {
  std::string key;
  std::string rest;
};

// An entry of a page being restructured (split, merge): views into a scratch
// copy of the page, or into Entry/encoded strings that outlive the operation.
struct EntryRef {
  std::string_view key;
  std::string_view rest;
};

size_t EncodedSize(std::string_view key, size_t rest_bytes) {
  return VarintLength(key.size()) + key.size() + rest_bytes;
}
size_t EncodedSize(const EntryRef& e) { return EncodedSize(e.key, e.rest.size()); }

std::vector<EntryRef> Refs(const std::vector<Entry>& v) {
  std::vector<EntryRef> r;
  r.reserve(v.size());
  for (const Entry& e : v) r.push_back(EntryRef{e.key, e.rest});
  return r;
}

Status Malformed(const char* p, int i) {
  return Status::Corruption("page " + std::to_string(page::PageNo(p)) + ": malformed entry " +
                            std::to_string(i));
}

// Copies page `p` into `scratch` (the page itself is about to be rewritten)
// and lists its entries as views into the copy.
Status DecodeAll(const char* p, uint32_t ps, std::string* scratch, std::vector<EntryRef>* out) {
  scratch->assign(p, ps);
  const char* c = scratch->data();
  int n = page::Count(c);
  out->clear();
  out->reserve(n + 2);
  for (int i = 0; i < n; i++) {
    EntryView e;
    if (!ParseEntry(c, ps, i, &e)) return Malformed(c, i);
    out->push_back(EntryRef{e.key, e.rest});
  }
  return Status::Ok();
}

// Lays `entries` out in `buf` (which must fit). Keeps the page number.
void WriteNode(char* buf, uint32_t ps, PageType type, const EntryRef* entries, size_t n) {
  uint64_t page_no = page::PageNo(buf);
  page::Init(buf, ps, type, page_no);
  uint32_t top = ps;
  for (size_t i = 0; i < n; i++) {
    size_t len = EncodedSize(entries[i]);
    top -= static_cast<uint32_t>(len);
    char* q = EncodeVarint(buf + top, entries[i].key.size());
    // (memcpy from an empty view's null pointer is undefined, even for 0 bytes)
    if (!entries[i].key.empty()) std::memcpy(q, entries[i].key.data(), entries[i].key.size());
    if (!entries[i].rest.empty()) std::memcpy(q + entries[i].key.size(), entries[i].rest.data(), entries[i].rest.size());
    page::SetSlot(buf, static_cast<int>(i), static_cast<uint16_t>(top), KeyPrefix(entries[i].key));
  }
  page::SetCount(buf, static_cast<uint16_t>(n));
  page::SetDataStart(buf, top);
  // Zero the gap so that page images are deterministic.
  uint32_t slots_end = kPageHeaderBytes + kSlotBytes * static_cast<uint32_t>(n);
  std::memset(buf + slots_end, 0, top - slots_end);
}

size_t TotalBytes(const std::vector<EntryRef>& v, size_t from, size_t to) {
  size_t t = 0;
  for (size_t i = from; i < to; i++) t += EncodedSize(v[i]) + kSlotBytes;
  return t;
}

// Writes `entries` into the page `page_no` (dirty buffer `buf`), splitting
// into as many new pages as needed; the new pages' separators come back in
// `splits` (to be inserted into the parent right after this page's entry).
// `entries` must not point into `buf`.
//
// `right_edge` (leaves only): the leaf is the tree's last and the entry that
// overflowed it is its last, the pattern of inserts in key order (the replay
// of a log, ascending keys). Then the leaf keeps every other entry and the
// last one starts a new leaf, as SQLite's balance_quick does: such inserts
// leave full leaves behind, not half-full ones that nothing will fill. Only
// at the tree's right edge: inside the tree, inserts going down in key order
// into one gap would leave a leaf per entry.
Status Rewrite(TreeWriter& w, char* buf, PageType type, std::vector<EntryRef>& entries,
               std::vector<Entry>* splits, bool right_edge = false) {
  const uint32_t ps = w.page_size();
  const size_t cap = page::Capacity(ps);
  size_t total = TotalBytes(entries, 0, entries.size());
  if (total <= cap) {
    WriteNode(buf, ps, type, entries.data(), entries.size());
    return Status::Ok();
  }
  const size_t last_bytes = entries.empty() ? 0 : EncodedSize(entries.back()) + kSlotBytes;
  const bool quick = right_edge && entries.size() >= 2 && total - last_bytes <= cap;
  // Cut into chunks of about total/n bytes each, n as small as possible.
  for (size_t n = quick ? 2 : (total + cap - 1) / cap; n <= entries.size(); n++) {
    size_t target = total / n;
    std::vector<size_t> cuts{0};
    size_t acc = 0;
    bool ok = true;
    if (quick) {
      cuts.push_back(entries.size() - 1);
    } else {
      for (size_t i = 0; i < entries.size(); i++) {
        size_t b = EncodedSize(entries[i]) + kSlotBytes;
        if (acc > 0 && (acc + b > cap || (acc >= target && cuts.size() < n))) {
          cuts.push_back(i);
          acc = 0;
        }
        acc += b;
      }
    }
    if (cuts.size() > n) ok = false;
    if (!ok) continue;
    cuts.push_back(entries.size());
    // Chunk 0 goes to buf; others to new pages.
    for (size_t c = cuts.size() - 2; c >= 1; c--) {
      uint64_t no;
      char* nb = w.NewPage(&no);
      Entry sep;
      sep.key = std::string(entries[cuts[c]].key);
      if (type == PageType::kBranch) entries[cuts[c]].key = {};  // minus infinity in the new node
      WriteNode(nb, ps, type, entries.data() + cuts[c], cuts[c + 1] - cuts[c]);
      sep.rest.assign(kBranchRefBytes, '\0');
      EncodeRef(sep.rest.data(), ChildRef{no, 0});
      splits->insert(splits->begin(), std::move(sep));
    }
    WriteNode(buf, ps, type, entries.data(), cuts[1]);
    return Status::Ok();
  }
  return Status::Corruption("cannot split page " + std::to_string(page::PageNo(buf)));
}

// Tries to insert an encoded entry (for `key`) at slot `idx` without restructuring.
bool InsertInPlace(char* p, int idx, std::string_view key, std::string_view enc) {
  int n = page::Count(p);
  uint32_t slots_end = kPageHeaderBytes + kSlotBytes * static_cast<uint32_t>(n + 1);
  uint32_t ds = page::DataStart(p);
  if (slots_end > ds || ds - slots_end < enc.size()) return false;
  uint32_t top = ds - static_cast<uint32_t>(enc.size());
  std::memcpy(p + top, enc.data(), enc.size());
  char* slots = p + kPageHeaderBytes;
  std::memmove(slots + kSlotBytes * static_cast<size_t>(idx + 1), slots + kSlotBytes * static_cast<size_t>(idx), kSlotBytes * static_cast<size_t>(n - idx));
  page::SetSlot(p, idx, static_cast<uint16_t>(top), KeyPrefix(key));
  page::SetCount(p, static_cast<uint16_t>(n + 1));
  page::SetDataStart(p, top);
  return true;
}

// Leaf `p` just took `last` in place: puts more of `more`'s into it, in place
// (see btree::Put). `upper`: the leaf's upper bound (its keys are below it),
// null at the tree's right edge. Returns how many it took.
uint64_t TakeFollowers(uint32_t ps, char* p, std::string_view last, const std::string_view* upper,
                       PutFollowers& more) {
  uint64_t taken = 0;
  std::string enc;
  std::string_view k, v;
  while (more.Next(&k, &v)) {
    if (CompareKeys(k, last) <= 0) break;
    if (upper != nullptr && CompareKeys(k, *upper) >= 0) break;
    if (k.size() > MaxKeyBytes(ps) || v.size() > kValueBytesMax) break;
    const uint64_t tag = static_cast<uint64_t>(v.size()) << 1;
    if (EncodedSize(k, VarintLength(tag) + v.size()) > MaxInlineEntryBytes(ps)) break;
    const int n = page::Count(p);
    // Ascending keys mostly go at the end.
    const int idx = n == 0 || CompareKeys(KeyAt(p, n - 1), k) < 0 ? n : LowerBound(p, k);
    if (idx < n && KeyAt(p, idx) == k) break;  // a replacement: Put frees the old value
    enc.clear();
    PutVarint(&enc, k.size());
    enc.append(k);
    PutVarint(&enc, tag);
    enc.append(v);
    if (!InsertInPlace(p, idx, k, enc)) break;
    more.Taken();
    taken++;
    last = k;
  }
  return taken;
}

void RemoveInPlace(char* p, int idx, uint32_t encoded_bytes) {
  int n = page::Count(p);
  char* slots = p + kPageHeaderBytes;
  std::memmove(slots + kSlotBytes * static_cast<size_t>(idx), slots + kSlotBytes * static_cast<size_t>(idx + 1), kSlotBytes * static_cast<size_t>(n - idx - 1));
  page::SetCount(p, static_cast<uint16_t>(n - 1));
  page::SetFragBytes(p, page::FragBytes(p) + encoded_bytes);
}

// Offset within the page of the child ref of branch entry `idx`.
Result<char*> RefPtr(char* p, uint32_t ps, int idx) {
  EntryView e;
  if (!ParseEntry(p, ps, idx, &e)) return Malformed(p, idx);
  return p + (e.rest.data() - p);
}

Status SetChild(char* p, uint32_t ps, int idx, ChildRef ref) {
  MANIFOLD_ASSIGN_OR_RETURN(char* q, RefPtr(p, ps, idx));
  EncodeRef(q, ref);
  return Status::Ok();
}

Result<ChildRef> GetChild(const char* p, uint32_t ps, int idx) {
  EntryView e;
  if (!ParseEntry(p, ps, idx, &e)) return Malformed(p, idx);
  return DecodeRef(e.rest.data());
}

// Makes child `idx` of dirty branch `p` writable and records its new number.
Result<char*> WritableChild(TreeWriter& w, char* p, int idx) {
  const uint32_t ps = w.page_size();
  MANIFOLD_ASSIGN_OR_RETURN(ChildRef ref, GetChild(p, ps, idx));
  uint64_t old = ref.page;
  MANIFOLD_ASSIGN_OR_RETURN(char* cb, w.MakeWritable(&ref));
  if (ref.page != old) MANIFOLD_RETURN_IF_ERROR(SetChild(p, ps, idx, ref));
  return cb;
}

bool Underfull(const char* p, uint32_t ps) {
  return page::Count(p) == 0 || page::UsedBytes(p, ps) < page::Capacity(ps) / 4;
}

void FreeValue(TreeWriter& w, std::string_view rest) {
  uint64_t first, bytes;
  if (OverflowOf(rest, &first, &bytes)) {
    uint64_t ps = w.page_size();
    w.FreeExtent(first, (bytes + ps - 1) / ps);
  }
}

// Adds the separators of a child's new siblings to branch `p` after entry `idx`.
// Branches always split evenly: a quick split would leave a branch with one
// child, which Rebalance cannot even out with a sibling, so a delete could
// then empty its leaf for good (found by BTreeModelTest, seed 1971716876).
Status InsertSplits(TreeWriter& w, char* p, int idx, const std::vector<Entry>& child_splits,
                    std::vector<Entry>* splits) {
  if (child_splits.size() == 1) {
    // Most splits add one separator, which mostly fits in place (Rewrite
    // would lay out the same entries in the same page).
    const Entry& e = child_splits[0];
    std::string enc;
    enc.reserve(EncodedSize(EntryRef{e.key, e.rest}));
    PutVarint(&enc, e.key.size());
    enc.append(e.key);
    enc.append(e.rest);
    if (InsertInPlace(p, idx + 1, e.key, enc)) return Status::Ok();
  }
  std::string scratch;
  std::vector<EntryRef> entries;
  MANIFOLD_RETURN_IF_ERROR(DecodeAll(p, w.page_size(), &scratch, &entries));
  std::vector<EntryRef> added = Refs(child_splits);
  entries.insert(entries.begin() + idx + 1, added.begin(), added.end());
  return Rewrite(w, p, PageType::kBranch, entries, splits);
}

// `right_edge`: `p` is the last page of its level of the tree. `upper`: the
// upper bound of `p`'s keys (null: none, at the right edge). `more`, `taken`:
// see btree::Put.
Status InsertRec(TreeWriter& w, char* p, int height, std::string_view key, const std::string& enc,
                 bool* existed, std::vector<Entry>* splits, bool right_edge, const std::string_view* upper,
                 PutFollowers* more, uint64_t* taken) {
  const uint32_t ps = w.page_size();
  if (height == 1) {
    int idx = LowerBound(p, key);
    *existed = idx < page::Count(p) && KeyAt(p, idx) == key;
    if (*existed) {
      EntryView e;
      if (!ParseEntry(p, ps, idx, &e)) return Malformed(p, idx);
      FreeValue(w, e.rest);
      RemoveInPlace(p, idx, e.encoded_bytes);
    }
    if (InsertInPlace(p, idx, key, enc)) {
      if (more != nullptr) *taken += TakeFollowers(ps, p, key, upper, *more);
      return Status::Ok();
    }
    if (right_edge && !*existed && idx == page::Count(p) && idx > 0 &&
        page::UsedBytes(p, ps) + kSlotBytes + enc.size() > page::Capacity(ps)) {
      // Rewrite's quick split (below), without rewriting `p`: it keeps its
      // entries as they are and the new entry starts a new leaf, which the
      // followers then fill (at the right edge: no upper bound).
      uint64_t no;
      char* nb = w.NewPage(&no);
      page::Init(nb, ps, PageType::kLeaf, no);
      if (!InsertInPlace(nb, 0, key, enc)) return Status::Corruption("leaf entry larger than a page");
      Entry sep;
      sep.key = std::string(key);
      sep.rest.assign(kBranchRefBytes, '\0');
      EncodeRef(sep.rest.data(), ChildRef{no, 0});
      splits->push_back(std::move(sep));
      if (more != nullptr) *taken += TakeFollowers(ps, nb, key, nullptr, *more);
      return Status::Ok();
    }
    std::string scratch;
    std::vector<EntryRef> entries;
    MANIFOLD_RETURN_IF_ERROR(DecodeAll(p, ps, &scratch, &entries));
    std::string_view ev = enc;
    uint64_t klen = 0;
    const char* q = DecodeVarint(ev.data(), ev.data() + ev.size(), &klen);
    size_t hdr = q - ev.data();
    const bool at_end = static_cast<size_t>(idx) == entries.size();
    entries.insert(entries.begin() + idx, EntryRef{ev.substr(hdr, klen), ev.substr(hdr + klen)});
    return Rewrite(w, p, PageType::kLeaf, entries, splits, right_edge && at_end);
  }
  int idx = ChildIndex(p, key);
  MANIFOLD_ASSIGN_OR_RETURN(char* child, WritableChild(w, p, idx));
  std::vector<Entry> child_splits;
  const bool child_right_edge = right_edge && idx + 1 == page::Count(p);
  // The child's upper bound: the next separator, else this page's. A view
  // into `p`, which stays as it is while the child takes followers (only a
  // split of the child, which ends them, changes it afterwards).
  std::string_view next_separator;
  const std::string_view* child_upper = upper;
  if (!child_right_edge && idx + 1 < page::Count(p)) {
    next_separator = KeyAt(p, idx + 1);
    child_upper = &next_separator;
  }
  MANIFOLD_RETURN_IF_ERROR(InsertRec(w, child, height - 1, key, enc, existed, &child_splits, child_right_edge,
                                     child_upper, more, taken));
  if (child_splits.empty()) return Status::Ok();
  return InsertSplits(w, p, idx, child_splits, splits);
}

// Child `idx` of dirty branch `p` is underfull: merge it with a sibling or
// even the two out. Parent changes may split the parent (into `splits`).
Status Rebalance(TreeWriter& w, char* p, int idx, PageType child_type, std::vector<Entry>* splits) {
  const uint32_t ps = w.page_size();
  int n = page::Count(p);
  if (n < 2) return Status::Ok();
  int l = idx > 0 ? idx - 1 : idx;
  int r = l + 1;
  MANIFOLD_ASSIGN_OR_RETURN(char* lb, WritableChild(w, p, l));
  MANIFOLD_ASSIGN_OR_RETURN(char* rb, WritableChild(w, p, r));
  std::string ls, rs, ps_scratch;
  std::vector<EntryRef> le, re, parent;
  MANIFOLD_RETURN_IF_ERROR(DecodeAll(lb, ps, &ls, &le));
  MANIFOLD_RETURN_IF_ERROR(DecodeAll(rb, ps, &rs, &re));
  MANIFOLD_RETURN_IF_ERROR(DecodeAll(p, ps, &ps_scratch, &parent));
  if (child_type == PageType::kBranch && !re.empty()) re[0].key = parent[r].key;
  std::vector<EntryRef> all;
  all.reserve(le.size() + re.size());
  all.insert(all.end(), le.begin(), le.end());
  all.insert(all.end(), re.begin(), re.end());
  size_t total = TotalBytes(all, 0, all.size());
  if (total <= page::Capacity(ps)) {
    WriteNode(lb, ps, child_type, all.data(), all.size());
    w.FreePage(page::PageNo(rb));
    parent.erase(parent.begin() + r);
    return Rewrite(w, p, PageType::kBranch, parent, splits);
  }
  // Even out by bytes.
  size_t acc = 0, cut = 0;
  while (cut < all.size() && acc + EncodedSize(all[cut]) + kSlotBytes <= total / 2) {
    acc += EncodedSize(all[cut++]) + kSlotBytes;
  }
  if (cut == 0) cut = 1;
  if (cut == all.size()) cut = all.size() - 1;
  std::string sep(all[cut].key);
  if (child_type == PageType::kBranch) all[cut].key = {};
  WriteNode(lb, ps, child_type, all.data(), cut);
  WriteNode(rb, ps, child_type, all.data() + cut, all.size() - cut);
  parent[r].key = sep;
  return Rewrite(w, p, PageType::kBranch, parent, splits);
}

Status DeleteRec(TreeWriter& w, char* p, int height, std::string_view key, bool* existed,
                 std::vector<Entry>* splits) {
  const uint32_t ps = w.page_size();
  if (height == 1) {
    int idx = LowerBound(p, key);
    *existed = idx < page::Count(p) && KeyAt(p, idx) == key;
    if (!*existed) return Status::Ok();
    EntryView e;
    if (!ParseEntry(p, ps, idx, &e)) return Malformed(p, idx);
    FreeValue(w, e.rest);
    RemoveInPlace(p, idx, e.encoded_bytes);
    return Status::Ok();
  }
  int idx = ChildIndex(p, key);
  MANIFOLD_ASSIGN_OR_RETURN(char* child, WritableChild(w, p, idx));
  std::vector<Entry> child_splits;
  MANIFOLD_RETURN_IF_ERROR(DeleteRec(w, child, height - 1, key, existed, &child_splits));
  if (!child_splits.empty()) return InsertSplits(w, p, idx, child_splits, splits);
  if (*existed && Underfull(child, ps)) {
    return Rebalance(w, p, idx, height - 1 == 1 ? PageType::kLeaf : PageType::kBranch, splits);
  }
  return Status::Ok();
}

// Root split: a new root above the old one and its new siblings.
void GrowRoot(TreeWriter& w, TreeRoot* root, std::vector<Entry>& splits) {
  while (!splits.empty()) {
    char first_ref[kBranchRefBytes];
    EncodeRef(first_ref, root->root);
    std::vector<EntryRef> entries{EntryRef{{}, std::string_view(first_ref, sizeof first_ref)}};
    for (const Entry& e : splits) entries.push_back(EntryRef{e.key, e.rest});
    std::vector<Entry> next;
    uint64_t no;
    char* nb = w.NewPage(&no);
    Status s = Rewrite(w, nb, PageType::kBranch, entries, &next);
    assert(s.ok());
    (void)s;
    splits = std::move(next);
    root->root = ChildRef{no, 0};
    root->depth++;
  }
}

Status FreeRec(TreeWriter& w, ChildRef ref, int height) {
  MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, w.ReadPage(ref));
  const char* p = pb.get();
  const uint32_t ps = w.page_size();
  for (int i = 0; i < page::Count(p); i++) {
    EntryView e;
    if (!ParseEntry(p, ps, i, &e)) return Malformed(p, i);
    if (height > 1) {
      MANIFOLD_RETURN_IF_ERROR(FreeRec(w, DecodeRef(e.rest.data()), height - 1));
    } else {
      FreeValue(w, e.rest);
    }
  }
  w.FreePage(ref.page);
  return Status::Ok();
}

Result<uint32_t> SealRec(TreeWriter& w, uint64_t page_no, int height, uint64_t generation) {
  char* p = w.DirtyBuffer(page_no);
  const uint32_t ps = w.page_size();
  if (height > 1) {
    for (int i = 0; i < page::Count(p); i++) {
      MANIFOLD_ASSIGN_OR_RETURN(char* q, RefPtr(p, ps, i));
      ChildRef ref = DecodeRef(q);
      if (w.DirtyBuffer(ref.page) != nullptr) {
        MANIFOLD_ASSIGN_OR_RETURN(ref.checksum, SealRec(w, ref.page, height - 1, generation));
        EncodeRef(q, ref);
      }
    }
  }
  return page::Seal(p, ps, page_no, generation);
}

}  // namespace

size_t MaxInlineEntryBytes(uint32_t page_size) { return page::MaxEntryBytes(page_size); }

size_t MaxKeyBytes(uint32_t page_size) {
  // Room for the key-length varint and the largest fixed part (a 12-byte
  // overflow or child ref plus a 10-byte tag).
  return page::MaxEntryBytes(page_size) - 3 - 10 - kOverflowRefBytes;
}

// Both decoders read only inside `rest`: a leaf entry that ParseEntry
// accepted always has its whole payload there, but `rest` may also come from
// elsewhere (a fuzzer hands them branch refs), so a short one is malformed.
bool OverflowOf(std::string_view rest, uint64_t* first_page, uint64_t* value_bytes) {
  const char* end = rest.data() + rest.size();
  uint64_t tag;
  const char* q = DecodeVarint(rest.data(), end, &tag);
  if (q == nullptr || (tag & 1) == 0 || end - q < kOverflowRefBytes) return false;
  *first_page = DecodeU64(q);
  *value_bytes = tag >> 1;
  return true;
}

Status ReadValue(TreeReader& r, std::string_view rest, std::string* out) {
  const char* end = rest.data() + rest.size();
  uint64_t tag;
  const char* q = DecodeVarint(rest.data(), end, &tag);
  if (q == nullptr) return Status::Corruption("malformed value tag");
  if ((tag & 1) == 0) {
    if (tag >> 1 > static_cast<uint64_t>(end - q)) return Status::Corruption("inline value runs past its entry");
    out->assign(q, tag >> 1);
    return Status::Ok();
  }
  if (end - q < kOverflowRefBytes) return Status::Corruption("overflow reference runs past its entry");
  return r.ReadOverflow(DecodeU64(q), tag >> 1, DecodeU32(q + 8), out);
}

// Finds the leaf entry for `key`: *leaf and *idx, or NotFound.
Status Locate(TreeReader& r, const TreeRoot& root, std::string_view key, PageBuf* leaf, int* idx) {
  if (root.depth == 0) return Status::NotFound("key not found");
  const uint32_t ps = r.page_size();
  ChildRef ref = root.root;
  for (uint32_t h = root.depth; h > 1; h--) {
    MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, r.ReadPage(ref));
    if (page::Type(pb.get()) != PageType::kBranch || page::Count(pb.get()) == 0) {
      return Status::Corruption("page " + std::to_string(ref.page) + ": expected a branch page");
    }
    MANIFOLD_ASSIGN_OR_RETURN(ref, GetChild(pb.get(), ps, ChildIndex(pb.get(), key)));
  }
  MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, r.ReadPage(ref));
  const char* p = pb.get();
  if (page::Type(p) != PageType::kLeaf) {
    return Status::Corruption("page " + std::to_string(ref.page) + ": expected a leaf page");
  }
  int i = LowerBound(p, key);
  if (i >= page::Count(p) || KeyAt(p, i) != key) return Status::NotFound("key not found");
  *leaf = std::move(pb);
  *idx = i;
  return Status::Ok();
}

Status Get(TreeReader& r, const TreeRoot& root, std::string_view key, std::string* value) {
  PageBuf leaf;
  int idx;
  MANIFOLD_RETURN_IF_ERROR(Locate(r, root, key, &leaf, &idx));
  EntryView e;
  if (!ParseEntry(leaf.get(), r.page_size(), idx, &e)) return Malformed(leaf.get(), idx);
  return ReadValue(r, e.rest, value);
}

Status Put(TreeWriter& w, TreeRoot* root, std::string_view key, std::string_view value, bool* existed,
           PutFollowers* more) {
  const uint32_t ps = w.page_size();
  if (key.size() > MaxKeyBytes(ps)) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                                   std::to_string(MaxKeyBytes(ps)) + " bytes for page size " +
                                   std::to_string(ps));
  }
  if (value.size() > kValueBytesMax) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kValueBytesMax));
  }
  // Encode the leaf entry: inline if it fits in a quarter page, else overflow.
  std::string enc;
  const uint64_t inline_tag = static_cast<uint64_t>(value.size()) << 1;
  if (EncodedSize(key, VarintLength(inline_tag) + value.size()) <= MaxInlineEntryBytes(ps)) {
    enc.reserve(EncodedSize(key, VarintLength(inline_tag) + value.size()));
    PutVarint(&enc, key.size());
    enc.append(key);
    PutVarint(&enc, inline_tag);
    enc.append(value);
  } else {
    MANIFOLD_ASSIGN_OR_RETURN(uint64_t first, w.WriteOverflow(value));
    PutVarint(&enc, key.size());
    enc.append(key);
    PutVarint(&enc, inline_tag | 1);
    char ref[kOverflowRefBytes];
    EncodeU64(ref, first);
    EncodeU32(ref + 8, crc32c::Mask(crc32c::Value(value)));
    enc.append(ref, sizeof ref);
  }
  if (root->depth == 0) {
    uint64_t no;
    char* p = w.NewPage(&no);
    page::Init(p, ps, PageType::kLeaf, no);
    InsertInPlace(p, 0, key, enc);
    root->root = ChildRef{no, 0};
    root->depth = 1;
    root->entries = 1;
    *existed = false;
    if (more != nullptr) root->entries += TakeFollowers(ps, p, key, nullptr, *more);
    return Status::Ok();
  }
  MANIFOLD_ASSIGN_OR_RETURN(char* p, w.MakeWritable(&root->root));
  std::vector<Entry> splits;
  uint64_t taken = 0;
  MANIFOLD_RETURN_IF_ERROR(InsertRec(w, p, static_cast<int>(root->depth), key, enc, existed, &splits,
                                     /*right_edge=*/true, /*upper=*/nullptr, more, &taken));
  GrowRoot(w, root, splits);
  if (!*existed) root->entries++;
  root->entries += taken;
  return Status::Ok();
}

Status Delete(TreeWriter& w, TreeRoot* root, std::string_view key, bool* existed) {
  *existed = false;
  if (root->depth == 0) return Status::Ok();
  // Look first, so that deleting a missing key copies no pages.
  PageBuf leaf;
  int idx;
  Status s = Locate(w, *root, key, &leaf, &idx);
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return s;
  MANIFOLD_ASSIGN_OR_RETURN(char* p, w.MakeWritable(&root->root));
  std::vector<Entry> splits;
  MANIFOLD_RETURN_IF_ERROR(DeleteRec(w, p, static_cast<int>(root->depth), key, existed, &splits));
  GrowRoot(w, root, splits);
  if (*existed) root->entries--;
  // Collapse: a branch root with one child gives way to the child; an empty
  // leaf root empties the tree.
  const uint32_t ps = w.page_size();
  while (true) {
    char* rp = w.DirtyBuffer(root->root.page);
    if (rp == nullptr) break;
    if (root->depth > 1 && page::Count(rp) == 1) {
      MANIFOLD_ASSIGN_OR_RETURN(ChildRef child, GetChild(rp, ps, 0));
      w.FreePage(root->root.page);
      root->root = child;
      root->depth--;
      continue;
    }
    if (root->depth == 1 && page::Count(rp) == 0) {
      w.FreePage(root->root.page);
      *root = TreeRoot{};
    }
    break;
  }
  return Status::Ok();
}

Status FreeAll(TreeWriter& w, TreeRoot* root) {
  if (root->depth > 0) MANIFOLD_RETURN_IF_ERROR(FreeRec(w, root->root, static_cast<int>(root->depth)));
  *root = TreeRoot{};
  return Status::Ok();
}

Status Seal(TreeWriter& w, TreeRoot* root, uint64_t generation) {
  if (root->depth == 0 || w.DirtyBuffer(root->root.page) == nullptr) return Status::Ok();
  MANIFOLD_ASSIGN_OR_RETURN(root->root.checksum,
                            SealRec(w, root->root.page, static_cast<int>(root->depth), generation));
  return Status::Ok();
}

// ---- Cursor ----

std::string_view Cursor::key() const {
  const Frame& f = stack_.back();
  return KeyAt(f.page.get(), f.index);
}

std::string_view Cursor::rest() const {
  const Frame& f = stack_.back();
  EntryView e;
  ParseEntry(f.page.get(), r_->page_size(), f.index, &e);  // verified when the page was read
  return e.rest;
}

// Pushes frames from `ref` down to a leaf, taking the leftmost or rightmost path.
Status Cursor::Descend(ChildRef ref, int height, bool leftmost, uint64_t from_page) {
  const uint32_t ps = r_->page_size();
  for (int h = height; h >= 1; h--) {
    if (h > 1 && scan_dir_ != 0 && !scan_branches_.insert(ref.page).second) {
      valid_ = false;
      return Status::Corruption("page " + std::to_string(ref.page) + ": branch page reached a second time in one scan (" +
                                (from_page == 0 ? std::string("from the root") : "child of page " + std::to_string(from_page)) +
                                "): the tree's pages share a subtree");
    }
    MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, r_->ReadPage(ref));
    int n = page::Count(pb.get());
    PageType want = h > 1 ? PageType::kBranch : PageType::kLeaf;
    if (page::Type(pb.get()) != want || (h > 1 && n == 0)) {
      return Status::Corruption("page " + std::to_string(ref.page) + ": unexpected page type at height " +
                                std::to_string(h));
    }
    int idx = leftmost ? 0 : n - 1;
    const uint64_t page_no = ref.page;
    if (h > 1) {
      MANIFOLD_ASSIGN_OR_RETURN(ref, GetChild(pb.get(), ps, idx));
    }
    from_page = page_no;
    stack_.push_back(Frame{std::move(pb), idx, page_no});
  }
  return Status::Ok();
}

void Cursor::BeginScan(int dir) {
  if (scan_dir_ == dir) return;
  scan_dir_ = dir;
  scan_branches_.clear();
  for (size_t i = 0; i + 1 < stack_.size(); i++) scan_branches_.insert(stack_[i].page_no);
}

Status Cursor::SeekFirst() {
  stack_.clear();
  valid_ = false;
  ResetScan();
  if (root_.depth == 0) return Status::Ok();
  MANIFOLD_RETURN_IF_ERROR(Descend(root_.root, static_cast<int>(root_.depth), true, 0));
  valid_ = page::Count(stack_.back().page.get()) > 0;
  return Status::Ok();
}

Status Cursor::SeekLast() {
  stack_.clear();
  valid_ = false;
  ResetScan();
  if (root_.depth == 0) return Status::Ok();
  MANIFOLD_RETURN_IF_ERROR(Descend(root_.root, static_cast<int>(root_.depth), false, 0));
  valid_ = stack_.back().index >= 0;
  return Status::Ok();
}

Status Cursor::SeekGE(std::string_view key) {
  stack_.clear();
  valid_ = false;
  ResetScan();
  if (root_.depth == 0) return Status::Ok();
  const uint32_t ps = r_->page_size();
  ChildRef ref = root_.root;
  for (uint32_t h = root_.depth; h >= 1; h--) {
    MANIFOLD_ASSIGN_OR_RETURN(PageBuf pb, r_->ReadPage(ref));
    PageType want = h > 1 ? PageType::kBranch : PageType::kLeaf;
    if (page::Type(pb.get()) != want || (h > 1 && page::Count(pb.get()) == 0)) {
      return Status::Corruption("page " + std::to_string(ref.page) + ": unexpected page type");
    }
    int idx = h > 1 ? ChildIndex(pb.get(), key) : LowerBound(pb.get(), key);
    const uint64_t page_no = ref.page;
    if (h > 1) {
      MANIFOLD_ASSIGN_OR_RETURN(ref, GetChild(pb.get(), ps, idx));
    }
    stack_.push_back(Frame{std::move(pb), idx, page_no});
  }
  valid_ = true;
  if (stack_.back().index >= page::Count(stack_.back().page.get())) {
    stack_.back().index--;  // Next() moves to the following leaf
    return Next();
  }
  return Status::Ok();
}

Status Cursor::SeekLE(std::string_view key) {
  MANIFOLD_RETURN_IF_ERROR(SeekGE(key));
  if (!valid_) return SeekLast();
  if (this->key() == key) return Status::Ok();
  return Prev();
}

Status Cursor::Next() {
  if (!valid_) return Status::Ok();
  const uint32_t ps = r_->page_size();
  Frame* leaf = &stack_.back();
  if (leaf->index + 1 < page::Count(leaf->page.get())) {
    leaf->index++;
    return Status::Ok();
  }
  BeginScan(+1);
  // The last leaf whose keys were returned (its keys must stay below the next ones).
  PageBuf last = leaf->page;
  uint64_t last_no = leaf->page_no;
  for (;;) {  // once per leaf reached; empty leaves are skipped
    // Climb to the first ancestor with a right sibling path, then go leftmost.
    size_t level = stack_.size() - 1;
    while (level > 0 && stack_[level - 1].index + 1 >= page::Count(stack_[level - 1].page.get())) level--;
    if (level == 0) {
      valid_ = false;
      return Status::Ok();
    }
    Frame& parent = stack_[level - 1];
    parent.index++;
    MANIFOLD_ASSIGN_OR_RETURN(ChildRef ref, GetChild(parent.page.get(), ps, parent.index));
    const uint64_t parent_no = parent.page_no;
    int height = static_cast<int>(stack_.size() - level);
    stack_.resize(level);
    MANIFOLD_RETURN_IF_ERROR(Descend(ref, height, true, parent_no));
    const char* p = stack_.back().page.get();
    if (page::Count(p) == 0) continue;
    const int n_last = page::Count(last.get());
    if (n_last > 0 && CompareKeys(KeyAt(p, 0), KeyAt(last.get(), n_last - 1)) <= 0) {
      valid_ = false;
      return Status::Corruption("page " + std::to_string(stack_.back().page_no) +
                                ": first key is not above the last key of the previous leaf, page " +
                                std::to_string(last_no) + " (keys out of order, or a leaf reached twice)");
    }
    return Status::Ok();
  }
}

Status Cursor::Prev() {
  if (!valid_) return Status::Ok();
  const uint32_t ps = r_->page_size();
  Frame* leaf = &stack_.back();
  if (leaf->index > 0) {
    leaf->index--;
    return Status::Ok();
  }
  BeginScan(-1);
  PageBuf last = leaf->page;
  uint64_t last_no = leaf->page_no;
  for (;;) {
    size_t level = stack_.size() - 1;
    while (level > 0 && stack_[level - 1].index <= 0) level--;
    if (level == 0) {
      valid_ = false;
      return Status::Ok();
    }
    Frame& parent = stack_[level - 1];
    parent.index--;
    MANIFOLD_ASSIGN_OR_RETURN(ChildRef ref, GetChild(parent.page.get(), ps, parent.index));
    const uint64_t parent_no = parent.page_no;
    int height = static_cast<int>(stack_.size() - level);
    stack_.resize(level);
    MANIFOLD_RETURN_IF_ERROR(Descend(ref, height, false, parent_no));
    const char* p = stack_.back().page.get();
    const int n = page::Count(p);
    if (n == 0) continue;
    if (page::Count(last.get()) > 0 && CompareKeys(KeyAt(p, n - 1), KeyAt(last.get(), 0)) >= 0) {
      valid_ = false;
      return Status::Corruption("page " + std::to_string(stack_.back().page_no) +
                                ": last key is not below the first key of the following leaf, page " +
                                std::to_string(last_no) + " (keys out of order, or a leaf reached twice)");
    }
    return Status::Ok();
  }
}

}  // namespace manifold::btree
