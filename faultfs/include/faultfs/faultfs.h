// faultfs: fault injection and power-loss simulation for manifold::Storage.
// Include this for everything; see fault_storage.h to start.
#pragma once

#include "faultfs/crash_image.h"   // IWYU pragma: export
#include "faultfs/fault_log.h"     // IWYU pragma: export
#include "faultfs/fault_storage.h" // IWYU pragma: export
#include "faultfs/rng.h"           // IWYU pragma: export
