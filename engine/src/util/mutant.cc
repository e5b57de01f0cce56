// The run-time choice of a deliberately broken variant (mutant.h), compiled
// only into ci/mutants' build (-DMANIFOLD_MUTANTS=ON).
#include "util/mutant.h"

#ifdef MANIFOLD_MUTANTS_BUILD
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace manifold {
namespace {

struct Named {
  const char* name;
  Mutant mutant;
};

constexpr Named kNamed[] = {
#define MANIFOLD_MUTANT_NAMED(name, what) {#name, Mutant::k##name},
    MANIFOLD_MUTANT_LIST(MANIFOLD_MUTANT_NAMED)
#undef MANIFOLD_MUTANT_NAMED
};

Mutant FromEnvironment() {
  const char* want = std::getenv("MANIFOLD_MUTANT");
  if (want == nullptr || *want == '\0') return Mutant::kNone;
  for (const Named& n : kNamed) {
    if (std::strcmp(n.name, want) == 0) return n.mutant;
  }
  std::fprintf(stderr, "manifold: MANIFOLD_MUTANT=%s is not a variant of engine/src/util/mutant.h; one of:", want);
  for (const Named& n : kNamed) std::fprintf(stderr, " %s", n.name);
  std::fprintf(stderr, "\n");
  std::abort();
}

}  // namespace

Mutant ActiveMutant() {
  static const Mutant active = FromEnvironment();
  return active;
}

}  // namespace manifold
#endif
