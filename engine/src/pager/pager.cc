#include "pager/pager.h"
#include "util/mutant.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace manifold {

Pager::Pager(std::shared_ptr<File> file, uint32_t page_size, uint64_t cache_bytes)
    : file_(std::move(file)), page_size_(page_size), cache_(cache_bytes, page_size) {}

std::string Pager::CorruptionContext(uint64_t page_no) const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "page %" PRIu64 " (offset %" PRIu64 ")", page_no,
                page_no * static_cast<uint64_t>(page_size_));
  return path() + " " + buf;
}

Result<PageBuf> Pager::Read(ChildRef ref, uint64_t page_count) {
  if (ref.page < 2 || ref.page >= page_count) {
    return Status::Corruption(path() + ": reference to page " + std::to_string(ref.page) +
                              " outside the database (" + std::to_string(page_count) + " pages)");
  }
  PageBuf buf = cache_.Lookup(ref.page);
  if (buf != nullptr) {
    if (page::StoredChecksum(buf.get()) != ref.checksum) {
      char m[128];
      std::snprintf(m, sizeof m, ": cached page checksum 0x%08x, parent expects 0x%08x",
                    page::StoredChecksum(buf.get()), ref.checksum);
      return Status::Corruption(CorruptionContext(ref.page) + m);
    }
    return buf;
  }
  buf = NewBuffer();
  Status s = file_->Read(ref.page * page_size_, page_size_, buf.get());
  if (!s.ok()) return s;
  uint32_t stored = page::StoredChecksum(buf.get());
  uint32_t computed = page::ComputeChecksum(buf.get(), page_size_);
  if (stored != computed || stored != ref.checksum) {
    char m[200];
    std::snprintf(m, sizeof m,
                  ": checksum mismatch: stored 0x%08x, computed 0x%08x, parent expects 0x%08x (%s)",
                  stored, computed, ref.checksum,
                  stored != computed ? "torn or corrupted page" : "stale, lost or misdirected write");
    return Status::Corruption(CorruptionContext(ref.page) + m);
  }
  if (page::PageNo(buf.get()) != ref.page) {
    return Status::Corruption(CorruptionContext(ref.page) + ": page claims to be page " +
                              std::to_string(page::PageNo(buf.get())) + " (misdirected write)");
  }
  if (!ValidatePage(buf.get(), page_size_)) {
    return Status::Corruption(CorruptionContext(ref.page) + ": malformed page (bad type, slot or entry layout)");
  }
  cache_.Insert(ref.page, buf);
  return buf;
}

Status Pager::ReadExtent(uint64_t first_page, uint64_t n_bytes, char* out) {
  return file_->Read(first_page * page_size_, n_bytes, out);
}

Status Pager::WritePages(const std::vector<std::pair<uint64_t, PageBuf>>& pages) {
  return WritePages(pages.data(), pages.size());
}

Status Pager::WritePages(const std::pair<uint64_t, PageBuf>* pages, size_t n) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < n) {
    // A run of consecutive page numbers (at most 8 MiB) becomes one write.
    size_t j = i + 1;
    while (j < n && pages[j].first == pages[j - 1].first + 1 && (j - i) * page_size_ < (8u << 20)) {
      j++;
    }
    const uint64_t offset = pages[i].first * page_size_;
    if (j == i + 1) {
      // A single page: straight from its buffer, no copy.
      MANIFOLD_RETURN_IF_ERROR(file_->Write(offset, std::string_view(pages[i].second.get(), page_size_)));
    } else {
      parts.clear();
      for (size_t k = i; k < j; k++) parts.emplace_back(pages[k].second.get(), page_size_);
      MANIFOLD_RETURN_IF_ERROR(file_->WriteGather(offset, parts.data(), parts.size()));
    }
    i = j;
  }
  return Status::Ok();
}

Status Pager::WriteExtent(uint64_t first_page, std::string_view data) {
  return file_->Write(first_page * page_size_, data);
}

Status Pager::EnsureCapacity(uint64_t pages) {
  std::lock_guard<std::mutex> lock(grow_mu_);
  if (!file_pages_known_) {
    MANIFOLD_ASSIGN_OR_RETURN(uint64_t bytes, file_->Size());
    file_pages_ = bytes / page_size_;
    file_pages_known_ = true;
  }
  if (pages <= file_pages_) return Status::Ok();
  uint64_t step = std::clamp<uint64_t>(file_pages_ / 8, 16, (64u << 20) / page_size_);
  uint64_t target = std::max(pages, file_pages_ + step);
  MANIFOLD_RETURN_IF_ERROR(file_->Resize(target * page_size_));
  file_pages_ = target;
  grew_since_sync_ = true;
  return Status::Ok();
}

Status Pager::MaybeShrink(const std::function<uint64_t()>& pages_in_use) {
  std::lock_guard<std::mutex> lock(grow_mu_);
  if (!file_pages_known_) return Status::Ok();
  const uint64_t pages = pages_in_use();
  uint64_t step = std::clamp<uint64_t>(pages / 8, 16, (64u << 20) / page_size_);
  if (file_pages_ <= pages + 2 * step) return Status::Ok();
  MANIFOLD_RETURN_IF_ERROR(file_->Resize((pages + step) * page_size_));
  file_pages_ = pages + step;
  return Status::Ok();
}

Status Pager::TruncateTo(uint64_t pages) {
  std::lock_guard<std::mutex> lock(grow_mu_);
  MANIFOLD_ASSIGN_OR_RETURN(uint64_t bytes, file_->Size());
  file_pages_ = bytes / page_size_;
  file_pages_known_ = true;
  if (bytes <= pages * page_size_) return Status::Ok();
  MANIFOLD_RETURN_IF_ERROR(file_->Resize(pages * page_size_));
  file_pages_ = pages;
  return Status::Ok();
}

Status Pager::Sync() {
  grew_since_sync_ = false;  // set again by a resize that races with this sync: at worst one sync late
  return file_->Sync();
}

// ---- PageAllocator ----

void PageAllocator::Reset(uint64_t page_count, std::vector<uint64_t> free_pages) {
  page_count_ = page_count;
  free_ = std::set<uint64_t>(free_pages.begin(), free_pages.end());
  pending_.clear();
  pending_young_.clear();
  young_.Clear();
  held_.Clear();
  defer_young_reclaim_ = 0;
  uncommitted_.clear();
}

std::vector<uint64_t> PageAllocator::YoungHeld() const {
  std::vector<uint64_t> v;
  held_.ForEach([&](uint64_t p) {
    if (young_.Contains(p)) v.push_back(p);
  });
  return v;
}

std::vector<uint64_t> PageAllocator::Held() const {
  std::vector<uint64_t> v;
  v.reserve(held_.size());
  held_.ForEach([&](uint64_t p) { v.push_back(p); });
  return v;
}

uint64_t PageAllocator::pending_count() const { return PendingPages().size(); }

std::vector<uint64_t> PageAllocator::PendingPages() const {
  std::vector<uint64_t> v;
  for (const auto* m : {&pending_, &pending_young_}) {
    for (const auto& [gen, pages] : *m) v.insert(v.end(), pages.begin(), pages.end());
  }
  return v;
}

uint64_t PageAllocator::Allocate() {
  // The insert (which may throw) before anything else changes.
  const uint64_t p = free_.empty() ? page_count_ : *free_.begin();
  uncommitted_.insert(p);
  if (p == page_count_) {
    page_count_++;
  } else {
    free_.erase(free_.begin());
  }
  held_.Erase(p);  // its old image is dropped by the caller
  return p;
}

uint64_t PageAllocator::AllocateExtent(uint64_t n_pages) {
  if (n_pages == 1) return Allocate();
  // First fit among free runs; else take the end of the file (absorbing free
  // pages that end exactly at the end).
  uint64_t run_start = 0, run_len = 0;
  for (uint64_t p : free_) {
    if (run_len > 0 && p == run_start + run_len) {
      run_len++;
    } else {
      run_start = p;
      run_len = 1;
    }
    if (run_len == n_pages) {
      TakeExtent(run_start, n_pages);
      return run_start;
    }
  }
  uint64_t start = page_count_;
  while (start > 2 && free_.count(start - 1) != 0) start--;
  TakeExtent(start, n_pages);
  page_count_ = std::max(page_count_, start + n_pages);
  return start;
}

void PageAllocator::TakeExtent(uint64_t first, uint64_t n_pages) {
  // All inserts (which may throw) first, undone on failure.
  uint64_t i = 0;
  try {
    for (; i < n_pages; i++) uncommitted_.insert(first + i);
  } catch (...) {
    while (i-- > 0) uncommitted_.erase(first + i);
    throw;
  }
  for (i = 0; i < n_pages; i++) {
    free_.erase(first + i);
    held_.Erase(first + i);  // their old images are dropped by the caller
  }
}

void PageAllocator::AddPending(uint64_t generation, const std::vector<uint64_t>& pages) {
  for (uint64_t p : pages) {
    if (young_.Contains(p)) {
      pending_young_[generation].push_back(p);  // may throw: the page stays young
      young_.Erase(p);
    } else {
      pending_[generation].push_back(p);
    }
  }
}

void PageAllocator::Reclaim(uint64_t durable_generation, uint64_t oldest_reader_generation) {
  uint64_t limit = std::min(durable_generation, oldest_reader_generation);
  if (MutantIs(Mutant::kReuseFreedPageEarly)) limit = oldest_reader_generation;
  while (!pending_.empty() && pending_.begin()->first <= limit) {
    for (uint64_t p : pending_.begin()->second) free_.insert(p);
    pending_.erase(pending_.begin());
  }
  while (defer_young_reclaim_ == 0 && !pending_young_.empty() && pending_young_.begin()->first <= oldest_reader_generation) {
    for (uint64_t p : pending_young_.begin()->second) free_.insert(p);
    pending_young_.erase(pending_young_.begin());
  }
}

void PageAllocator::TrimTail() {
  while (page_count_ > 2 && !free_.empty() && *free_.rbegin() == page_count_ - 1) {
    free_.erase(std::prev(free_.end()));
    page_count_--;
  }
}

std::vector<uint64_t> PageAllocator::FreeAndPending() const {
  std::vector<uint64_t> v(free_.begin(), free_.end());
  std::vector<uint64_t> p = PendingPages();
  v.insert(v.end(), p.begin(), p.end());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace manifold
