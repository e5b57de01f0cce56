// Deliberately broken engine variants, for the harness's self-test
// (ci/mutants; crashsim must catch every one of them).
//
// A build configured with -DMANIFOLD_MUTANT=<name> (a name below, without the
// leading k) compiles exactly one bug in; every other build has kNone and the
// compiler drops the broken branches. The define reaches only the engine
// sources that include this header (engine/CMakeLists.txt), so switching
// variants recompiles just those. Each hook is one `if constexpr
// (kMutant == Mutant::kX)` at the place the bug lives, named after what it
// breaks. Never enable one outside ci/mutants.
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

enum class Mutant {
  kNone,
  kSkipWalSync,               // group commit marks the log synced without syncing it
  kAckBeforeSync,             // a kImmediate commit returns before its log sync
  kHeaderBeforePageSync,      // a checkpoint writes its header before the data pages are synced
  kSkipHeaderSync,            // a checkpoint resets the log without syncing its header
  kReuseFreedPageEarly,       // a freed page is reused while the durable header still reaches it
  kAcceptBadRecordChecksum,   // recovery trusts a log record whose checksum does not match
  kReplayRecordTwice,         // recovery applies every log record twice
  kIgnoreFailedSync,          // a failed log sync is treated as a success (no poisoning)
  kDropLastRecordOfLog,       // recovery drops the last valid record of the log
  kLsnGapAcrossFamilies,      // the LSN skips one when a record's column family differs from the previous one
  kForgetSyncAfterGrow,       // a checkpoint that grew the file skips its data sync
  kLoseMultiFamilySecondHalf, // a multi-family transaction logs only its first family's operations
  kOverwriteNewestHeaderSlot, // a checkpoint writes its header over the newest slot, not the other one
};

#ifndef MANIFOLD_MUTANT
#define MANIFOLD_MUTANT None
#endif
#define MANIFOLD_MUTANT_CAT2(a, b) a##b
#define MANIFOLD_MUTANT_CAT(a, b) MANIFOLD_MUTANT_CAT2(a, b)
inline constexpr Mutant kMutant = Mutant::MANIFOLD_MUTANT_CAT(k, MANIFOLD_MUTANT);

}  // namespace manifold
