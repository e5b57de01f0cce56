// Deliberately broken engine variants, for the harness's self-test
// (ci/mutants; crashsim must catch every one of them).
//
// A build configured with -DMANIFOLD_MUTANTS=ON compiles every bug in and
// runs the one named by the environment variable MANIFOLD_MUTANT (a name
// below; unset: none), so ci/mutants builds once for all of them. In every
// other build MutantIs() is constexpr false and the compiler drops the broken
// branches. Each hook is one `MutantIs(Mutant::kX)` at the place the bug
// lives, named after what it breaks. Never enable them outside ci/mutants.
//
// Not in the catalogue: "trust a torn header slot" (skip the slot checksum).
// A header slot is 128 bytes inside one sector, so under faultfs's sector
// model a crash leaves it old, new, garbage or zeros, never half-written, and
// garbage already fails the magic check: crashsim cannot tell that variant
// from the real engine. The slot checksum is covered by
// faultfs.Log/EngineFaults.BitFlipInNewestHeaderSlot and
// CorruptionTest.OneCorruptHeaderSlotFallsBackBothCorruptIsAnError.
#pragma once

namespace manifold {

// Every variant: X(Name, what it breaks). ci/mutants reads the names from here.
#define MANIFOLD_MUTANT_LIST(X) \
  X(SkipWalSync, "group commit marks the log synced without syncing it")                                    \
  X(AckBeforeSync, "a kImmediate commit returns before its log sync")                                       \
  X(HeaderBeforePageSync, "a checkpoint writes its header before the data pages are synced")                \
  X(SkipHeaderSync, "a checkpoint resets the log without syncing its header")                               \
  X(ReuseFreedPageEarly, "a freed page is reused while the durable header still reaches it")                \
  X(AcceptBadRecordChecksum, "recovery trusts a log record whose checksum does not match")                  \
  X(ReplayRecordTwice, "recovery applies every log record twice")                                           \
  X(IgnoreFailedSync, "a failed log sync is treated as a success (no poisoning)")                           \
  X(DropLastRecordOfLog, "recovery drops the last valid record of the log")                                 \
  X(LsnGapAcrossFamilies, "the LSN skips one when a record's column family differs from the previous one")  \
  X(ForgetSyncAfterGrow, "a checkpoint that grew the file skips its data sync")                             \
  X(LoseMultiFamilySecondHalf, "a multi-family transaction logs only its first family's operations")        \
  X(OverwriteNewestHeaderSlot, "a checkpoint writes its header over the newest slot, not the other one")    \
  X(IgnoreCheckpointWalSalt, "behind a damaged log header, open counts stale records of earlier log cycles")

enum class Mutant {
  kNone,
#define MANIFOLD_MUTANT_ENUM(name, what) k##name,
  MANIFOLD_MUTANT_LIST(MANIFOLD_MUTANT_ENUM)
#undef MANIFOLD_MUTANT_ENUM
};

#ifdef MANIFOLD_MUTANTS_BUILD
// The variant named by the environment variable MANIFOLD_MUTANT (unset or
// empty: kNone), read once; an unknown name aborts with the list of names.
Mutant ActiveMutant();
inline bool MutantIs(Mutant m) { return m == ActiveMutant(); }
#else
constexpr bool MutantIs(Mutant) { return false; }
#endif

}  // namespace manifold
