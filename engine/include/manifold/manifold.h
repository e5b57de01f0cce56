// Umbrella header: everything a user of Manifold needs.
#pragma once
#include "manifold/db.h"
#include "manifold/status.h"
#include "manifold/storage.h"
