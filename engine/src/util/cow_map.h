// CowMap: a map from names to values, in name order, whose copies share
// their structure.
//
// The catalog (column families and their tables) is copied for every commit
// group: the new snapshot's catalog is the newest one with the group's own
// families replaced. As a std::map that copy cost every family and table of
// the database, so one commit got slower with every family that existed
// (kNone commits on one family: 116k/s with 1 family, 27k/s with 256, 3.2k/s
// with 2,048). Here entries live in sorted chunks of about kChunk entries,
// chunks and values are shared between copies (std::shared_ptr), and a change
// copies only what it touches: one chunk and one value. A copy costs one
// pointer per chunk.
//
// A chunk or value shared with another map is never changed: it is copied
// first (copy-on-write; use_count() == 1 means no other map holds it, and
// none can start to, since only this map has a pointer to copy; Share()
// hands a value out, and Mutable() then copies it). Many threads may read
// one map, and copy it, at once; changing a map needs exclusive access to it.
// A change whose allocation fails (std::bad_alloc) leaves the map as it was
// (ForEachMutable: with the values visited so far changed).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace manifold {

template <class V>
class CowMap {
 public:
  // A chunk splits in two when it grows past 2 * kChunk entries.
  static constexpr size_t kChunk = 32;

  // What iteration yields, named like std::map's value_type members.
  struct Ref {
    const std::string& first;
    const V& second;
  };

  class const_iterator {
   public:
    Ref operator*() const {
      const Entry& e = (*map_->chunks_[chunk_])[entry_];
      return Ref{e.key, *e.value};
    }
    const_iterator& operator++() {
      if (++entry_ == map_->chunks_[chunk_]->size()) {
        chunk_++;
        entry_ = 0;
      }
      return *this;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && entry_ == o.entry_; }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }

   private:
    friend class CowMap;
    const_iterator(const CowMap* map, size_t chunk) : map_(map), chunk_(chunk) {}
    const CowMap* map_;
    size_t chunk_;
    size_t entry_ = 0;
  };

  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, chunks_.size()); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The value for `key`, or null.
  const V* Find(std::string_view key) const {
    const size_t c = ChunkFor(key);
    if (c == chunks_.size()) return nullptr;
    const Chunk& ch = *chunks_[c];
    auto it = Lower(ch, key);
    return it != ch.end() && it->key == key ? it->value.get() : nullptr;
  }
  bool Contains(std::string_view key) const { return Find(key) != nullptr; }

  // The value for `key` to change (copied first if another map shares it,
  // with its chunk), or null.
  V* Mutable(std::string_view key) {
    const size_t c = ChunkFor(key);
    if (c == chunks_.size()) return nullptr;
    Chunk& ch = Own(c);
    auto it = LowerMut(ch, key);
    if (it == ch.end() || it->key != key) return nullptr;
    if (!Unique(it->value)) it->value = std::make_shared<V>(*it->value);
    return it->value.get();
  }

  // The value for `key` to change, inserted (default-constructed) if missing.
  V& operator[](std::string_view key) {
    if (V* v = Mutable(key)) return *v;
    return *Insert(std::string(key), std::make_shared<V>());
  }

  // Removes `key`; false if it was not there.
  bool Erase(std::string_view key) { return Take(key) != nullptr; }

  // Gives the entry `from` the key `to` (which must not exist), keeping its
  // value. False if `from` does not exist or `to` does. If an allocation
  // fails (std::bad_alloc), the map is as it was.
  bool Rename(std::string_view from, std::string_view to) {
    if (Contains(to)) return false;
    const size_t c = ChunkFor(from);
    std::shared_ptr<V> v = Share(from);
    if (v == nullptr) return false;
    Own(c);                          // so that removing `from` below allocates nothing
    Insert(std::string(to), std::move(v));  // may split chunks: `from` stays in an owned one
    Take(from);
    return true;
  }

  // `key`'s value itself, to share with another map (Put), or null.
  std::shared_ptr<V> Share(std::string_view key) const {
    const size_t c = ChunkFor(key);
    if (c == chunks_.size()) return nullptr;
    const Chunk& ch = *chunks_[c];
    auto it = Lower(ch, key);
    return it != ch.end() && it->key == key ? it->value : nullptr;
  }

  // Sets `key`'s value (inserting the key if missing) to `value`, which this
  // map then shares with whoever else holds it.
  void Put(std::string_view key, std::shared_ptr<V> value) {
    const size_t c = ChunkFor(key);
    if (c != chunks_.size()) {
      Chunk& ch = Own(c);
      auto it = LowerMut(ch, key);
      if (it != ch.end() && it->key == key) {
        it->value = std::move(value);
        return;
      }
    }
    Insert(std::string(key), std::move(value));
  }

  // Calls f(key, value&) for every entry, in key order, on values this map
  // owns alone (each shared one is copied first).
  template <class F>
  void ForEachMutable(F&& f) {
    for (size_t c = 0; c < chunks_.size(); c++) {
      for (Entry& e : Own(c)) {
        if (!Unique(e.value)) e.value = std::make_shared<V>(*e.value);
        f(static_cast<const std::string&>(e.key), *e.value);
      }
    }
  }

  // Same keys in the same order with equal values.
  bool operator==(const CowMap& o) const {
    if (size_ != o.size_) return false;
    for (auto a = begin(), b = o.begin(); a != end(); ++a, ++b) {
      const Ref x = *a, y = *b;
      if (x.first != y.first || !(&x.second == &y.second || x.second == y.second)) return false;
    }
    return true;
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<V> value;
  };
  using Chunk = std::vector<Entry>;

  static typename Chunk::const_iterator Lower(const Chunk& ch, std::string_view key) {
    return std::lower_bound(ch.begin(), ch.end(), key,
                            [](const Entry& e, std::string_view k) { return std::string_view(e.key) < k; });
  }
  static typename Chunk::iterator LowerMut(Chunk& ch, std::string_view key) {
    return std::lower_bound(ch.begin(), ch.end(), key,
                            [](const Entry& e, std::string_view k) { return std::string_view(e.key) < k; });
  }

  // The first chunk whose last key is >= key (where key is or would go), or
  // chunks_.size() if key is past every chunk.
  size_t ChunkFor(std::string_view key) const {
    auto it = std::lower_bound(
        chunks_.begin(), chunks_.end(), key,
        [](const std::shared_ptr<Chunk>& ch, std::string_view k) { return std::string_view(ch->back().key) < k; });
    return static_cast<size_t>(it - chunks_.begin());
  }

  // Chunk c, copied first if another map shares it.
  Chunk& Own(size_t c) {
    if (!Unique(chunks_[c])) chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
    return *chunks_[c];
  }

  // Whether no other map holds `p`. use_count() is a relaxed load; the
  // fence orders this map's writes after another thread's last reads,
  // which happened before its release of `p` (shared_ptr decrements are
  // acquire-release).
  template <class T>
  static bool Unique(const std::shared_ptr<T>& p) {
    if (p.use_count() != 1) return false;
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
  }

  // Inserts an entry whose key is not in the map; returns its value. If an
  // allocation fails (std::bad_alloc), the map is as it was.
  V* Insert(std::string key, std::shared_ptr<V> value) {
    V* const v = value.get();
    if (chunks_.empty()) {  // never an empty chunk, also when an allocation fails
      auto first = std::make_shared<Chunk>();
      first->push_back(Entry{std::move(key), std::move(value)});
      chunks_.push_back(std::move(first));
      size_++;
      return v;
    }
    size_t c = ChunkFor(key);
    if (c == chunks_.size()) c = chunks_.size() - 1;  // past every key: the last chunk's end
    Chunk& ch = Own(c);
    const auto at = LowerMut(ch, key);  // before `key` is moved from
    ch.insert(at, Entry{std::move(key), std::move(value)});
    size_++;
    if (ch.size() > 2 * kChunk) {
      try {
        chunks_.reserve(chunks_.size() + 1);  // so that the insert below cannot fail after the moves
        auto upper = std::make_shared<Chunk>(std::make_move_iterator(ch.begin() + kChunk),
                                             std::make_move_iterator(ch.end()));
        ch.erase(ch.begin() + kChunk, ch.end());
        chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
      } catch (const std::bad_alloc&) {
        // The chunk stays larger for now; a later insert splits it.
      }
    }
    return v;
  }

  // Removes `key` and returns its value, or null if it was not there.
  std::shared_ptr<V> Take(std::string_view key) {
    const size_t c = ChunkFor(key);
    if (c == chunks_.size()) return nullptr;
    if (!Contains(key)) return nullptr;
    Chunk& ch = Own(c);
    auto it = LowerMut(ch, key);
    std::shared_ptr<V> v = std::move(it->value);
    ch.erase(it);
    size_--;
    if (ch.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
    return v;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;  // each non-empty, keys ascending across them
  size_t size_ = 0;
};

}  // namespace manifold
