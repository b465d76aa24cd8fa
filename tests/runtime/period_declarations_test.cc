// Declared periods and windows (runtime/period_declarations.h) on a real SQLite file: applied
// at every start, idempotent, and a window taken out of the config is deleted (the CLI and the
// API refuse to delete a config window, so the config must be able to).
#include "runtime/period_declarations.h"

#include <gtest/gtest.h>

#include "tests/support/maintenance_window.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'760'400'000'000;

TEST(PeriodDeclarationsTest, AWindowTakenOutOfTheConfigIsDeletedAndOthersStay) {
  testing::ScratchDir dir;
  auto store = storage::PeriodStore::Open(dir.File("obsmon.db"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const MaintenanceRecord upgrade = testing::Window("carbon", kT0, kT0 + kHour, "upgrade", "", 0);
  const MaintenanceRecord backup =
      testing::Window("carbon", kT0 + 2 * kHour, kT0 + 3 * kHour, "backup", "", 0);
  auto by_cli = (*store)->AddMaintenance(
      testing::Window("carbon", kT0 + 5 * kHour, kT0 + 6 * kHour, "by hand", "cli", kT0));
  ASSERT_TRUE(by_cli.ok());

  std::set<int64_t> declared;
  ASSERT_TRUE(ApplyDeclarations(**store, {{}, {upgrade, backup}}, kT0, &declared).ok());
  ASSERT_EQ(declared.size(), 2u);
  auto none = RetireUndeclaredWindows(**store, declared);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // The next start (or reload) declares only the backup.
  std::set<int64_t> now_declared;
  ASSERT_TRUE(ApplyDeclarations(**store, {{}, {backup}}, kT0 + kHour, &now_declared).ok());
  EXPECT_EQ(now_declared.size(), 1u);
  EXPECT_TRUE(declared.count(*now_declared.begin()));  // the same row, not a new one
  auto retired = RetireUndeclaredWindows(**store, now_declared);
  ASSERT_TRUE(retired.ok());
  ASSERT_EQ(retired->size(), 1u);
  EXPECT_EQ((*retired)[0].reason, "upgrade");

  auto left = (*store)->MaintenanceWindows("carbon");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);  // the backup (config) and the CLI's window, never the config's
  EXPECT_EQ((*left)[0].reason, "backup");
  EXPECT_EQ((*left)[1].reason, "by hand");
  EXPECT_EQ((*left)[1].id, *by_cli);
}

}  // namespace
}  // namespace obsmon
