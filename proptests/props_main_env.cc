// Prints, once per run, how many cases each property runs and how to change
// it or replay a failure (RapidCheck reads RC_PARAMS from the environment).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace {

class RapidCheckHint : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* params = std::getenv("RC_PARAMS");
    std::printf("[proptests] RC_PARAMS=\"%s\"%s\n", params != nullptr ? params : "",
                params != nullptr ? "" : " (default: 100 cases per property, random seed)");
    std::printf("[proptests] more cases: RC_PARAMS=\"max_success=1000\"; replay a failure: "
                "RC_PARAMS=\"seed=N\" with the seed RapidCheck printed (add reproduce=... for the shrunk case)\n");
  }
};

// Registered before main() runs (gtest_main calls RUN_ALL_TESTS).
[[maybe_unused]] ::testing::Environment* const kHint = ::testing::AddGlobalTestEnvironment(new RapidCheckHint);

}  // namespace
