// Issue 17 (stop 49's birth time, checked on the real binary): a log file deleted and made again
// while obsmon is down, on the old file's inode number, beginning with the old file's lines and
// longer than where obsmon stopped, is a new file: every line of it is counted, from 0. Inode
// number, first bytes and size all match the stored cursor; only the birth time stored with it
// (log_cursors.birth_ns) tells the two files apart. Before it was stored, obsmon resumed the new
// file at the old offset and never counted the lines before it.
//
// The real obsmon follows one file every 100 ms. Each round: lines are written and counted, the
// daemon is killed with SIGKILL (or stopped with SIGTERM, as systemd does), the file is made
// again on the same inode number with the old lines and new ones after them, and the daemon is
// restarted. The truth is what this test wrote: the persisted counters must equal it exactly.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/integration/stored_counters.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDir;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

const std::string kObsmon = std::string(OBSMON_BINARY_DIR) + "/obsmon";

// What the database holds of the component "job": lines read and ERROR lines matched.
struct Counted {
  double lines = 0, errors = 0;
  bool ok = false;
};

Counted ReadCounted(const std::string& db) {
  const auto stored = testing::ReadStoredCounters(db);
  return {stored.Sum("obsmon_log_lines_read_total", {{"component", "job"}}),
          stored.Sum("obsmon_log_matches_total", {{"component", "job"}, {"severity", "error"}}),
          stored.ok};
}

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Deletes `path` and makes it again with `content` on the inode number it had. ext4 gives a new
// file the lowest free inode number of its directory's group, so the number just freed comes
// back unless a lower one is free (another test's file deleted meanwhile, in a suite that runs
// tests side by side: the first version of this test was skipped there). Files that get
// another number are kept until the end (named `spare` + a number, in the same directory: a
// directory of their own could sit in another group), so that each plugs a lower free number;
// false when the number never came back (another process took it first).
bool MakeAgainOnTheSameInode(const std::string& path, const std::string& content,
                             const std::string& spare) {
  const ino_t inode = InodeOf(path);
  if (inode == 0 || ::unlink(path.c_str()) != 0) return false;
  bool made = false;
  int attempts = 0;
  for (; attempts < 2000 && !made; ++attempts) {
    const std::string file = spare + std::to_string(attempts);
    WriteWholeFile(file, content);
    made = InodeOf(file) == inode && ::rename(file.c_str(), path.c_str()) == 0;
  }
  for (int i = 0; i < attempts; ++i) ::unlink((spare + std::to_string(i)).c_str());
  return made;
}

// Lines [from, from + n), every third an ERROR.
std::string Lines(int from, int n, int* errors) {
  std::string s;
  for (int i = from; i < from + n; ++i) {
    const bool error = i % 3 == 0;
    if (error) ++*errors;
    s += "2026-12-05 " + std::string(error ? "ERROR" : "INFO") + " job step " + std::to_string(i) +
         "\n";
  }
  return s;
}

TEST(LogMadeAgainTest, AFileMadeAgainOnItsInodeWhileObsmonIsDownIsCountedFromItsStart) {
  ASSERT_TRUE(std::filesystem::exists(kObsmon)) << kObsmon;
  ScratchDir dir;
  const std::string log = dir.File("job.log");
  const std::string db = dir.File("obsmon.db");
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config, "listen: 127.0.0.1:0\nstorage:\n  path: " + db +
                             "\ncomponents:\n  - name: job\n    probes:\n      - name: logs\n"
                             "        kind: log\n        interval: 100ms\n        paths: [" +
                             log + "]\n");
  // The truth: every line this test wrote, and its ERROR lines; and the current file's.
  int written = 0, errors = 0;
  int file_lines = 0, file_errors = 0;
  int next = 0;  // the number the next new line carries
  std::string content;
  auto add = [&](int n) {
    int e = 0;
    const std::string lines = Lines(next, n, &e);
    next += n;
    content += lines;
    file_lines += n;
    file_errors += e;
    written += n;
    errors += e;
    return lines;
  };
  WriteWholeFile(log, add(30));

  int starts = 0;
  auto start = [&] {
    auto obsmon =
        std::make_unique<Subprocess>(std::vector<std::string>{kObsmon, "run", "--config", config},
                                     dir.File("obsmon-" + std::to_string(starts++) + ".log"));
    EXPECT_TRUE(obsmon->started());
    EXPECT_TRUE(WaitUntil([&] { return obsmon->Output().find("(port ") != std::string::npos; }))
        << obsmon->Output();
    return obsmon;
  };
  // What was counted against what was written, for a failure's message.
  auto counts = [&] {
    const Counted c = ReadCounted(db);
    return "stored " + std::to_string(c.lines) + " lines, " + std::to_string(c.errors) +
           " errors; written " + std::to_string(written) + " lines, " + std::to_string(errors) +
           " errors";
  };
  auto caught_up = [&] {
    return WaitUntil(
        [&] {
          const Counted c = ReadCounted(db);
          return c.ok && c.lines >= written && c.errors >= errors;
        },
        60s);
  };

  auto obsmon = start();
  ASSERT_TRUE(caught_up()) << counts() << "\n" << obsmon->Output();
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Lines appended while it runs, counted before it goes down.
    testing::AppendToFile(log, add(10));
    ASSERT_TRUE(caught_up()) << counts() << "\n" << obsmon->Output();
    if (round % 2 == 0) {
      obsmon->Signal(SIGKILL);
      obsmon->Wait();
    } else {
      obsmon->Signal(SIGTERM);
      ASSERT_EQ(obsmon->Wait(), 0) << obsmon->Output();
    }
    // Made again: the same lines first (a job run again writes the same banner and steps), then
    // more, so that it is longer than the stored offset. Every line of it is new, the repeated
    // ones too: the job wrote them again.
    const ino_t old_inode = InodeOf(log);
    ASSERT_NE(old_inode, 0u);
    written += file_lines;
    errors += file_errors;
    add(15);
    // Another process can take the number in the microseconds between the unlink and the
    // first new file: rare, and then there is nothing to test.
    if (!MakeAgainOnTheSameInode(log, content, dir.File("spare-"))) {
      GTEST_SKIP() << "round " << round << ": another file took the inode number";
    }
    obsmon = start();
    ASSERT_TRUE(caught_up()) << counts() << "\n" << obsmon->Output();
  }
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  const Counted c = ReadCounted(db);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.lines, written);
  EXPECT_EQ(c.errors, errors);
}

}  // namespace
}  // namespace obsmon
