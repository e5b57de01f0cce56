// MANIFOLD_HEAP_CHECKED: 1 when this build runs under a sanitizer that
// tracks the bounds of heap buffers (AddressSanitizer, MemorySanitizer).
// Code that would otherwise hand out memory of its own -- the page pool's
// slabs, huge-page mappings for large buffers and vectors -- then uses the
// heap, so that the sanitizer sees each buffer's bounds (an overflow inside
// a slab or past a vector's end into the rest of its 2 MiB mapping would go
// unreported).
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define MANIFOLD_HEAP_CHECKED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MANIFOLD_HEAP_CHECKED 1
#endif
#if !defined(MANIFOLD_HEAP_CHECKED)
#define MANIFOLD_HEAP_CHECKED 0
#endif
