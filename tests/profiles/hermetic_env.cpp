// Every test in this binary, and every tool it runs, sees only the DevPros the
// test itself provides plus the built-ins: the host's installed profiles
// (/usr/share/fastboop/devpro, the install datadir), the user's XDG directory
// and $FASTBOOP_SCHEMA_PATH are switched off once for the whole process.
#include "test_support.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <memory>

namespace {

class HermeticDevproEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    m_home = std::make_unique<fastboop::test::TempDir>();
    ::setenv("FASTBOOP_DEVPRO_SYSTEM_DIRS", "", 1);
    ::setenv("XDG_CONFIG_HOME", (*m_home / "xdg").c_str(), 1);
    ::unsetenv("FASTBOOP_SCHEMA_PATH");
  }
  void TearDown() override { m_home.reset(); }

private:
  std::unique_ptr<fastboop::test::TempDir> m_home;
};

[[maybe_unused]] ::testing::Environment* const hermetic =
    ::testing::AddGlobalTestEnvironment(new HermeticDevproEnvironment);

} // namespace
