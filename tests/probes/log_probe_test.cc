#include "probes/log_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "core/config_node.h"
#include "probes/probe_registry.h"
#include "tests/probes/log_test_util.h"

namespace obsmon::probes {
namespace {

using obsmon::testing::AppendToFile;
using obsmon::testing::ScratchDir;
using obsmon::testing::WriteWholeFile;

// What storage would remember: the cursors and counter totals of committed results.
class FakeState final : public ProbeStateSource {
 public:
  void Commit(const ProbeResult& r) {
    for (const auto& c : r.log_cursors) {
      if (c.retired) {
        cursors.erase(c.path);
      } else {
        cursors[c.path] = c;
      }
    }
    for (const auto& d : r.counters) {
      if (d.forget) {
        counters.erase(d.name + d.labels.ToString());
        continue;
      }
      auto& v = counters[d.name + d.labels.ToString()];
      v.name = d.name;
      v.labels = d.labels;
      v.value += d.delta;
    }
  }
  std::vector<LogCursor> LogCursors(const ProbeKey&) override {
    std::vector<LogCursor> out;
    for (const auto& [p, c] : cursors) out.push_back(c);
    return out;
  }
  std::vector<CounterValue> Counters(const ProbeKey&) override {
    std::vector<CounterValue> out;
    for (const auto& [k, v] : counters) out.push_back(v);
    return out;
  }
  double Total(const std::string& name, const std::string& severity = "") const {
    double sum = 0;
    for (const auto& [k, v] : counters) {
      if (v.name == name && (severity.empty() || v.labels.Get("severity") == severity)) {
        sum += v.value;
      }
    }
    return sum;
  }
  std::map<std::string, LogCursor> cursors;
  std::map<std::string, CounterValue> counters;
};

// A "<name> <n> kB" line of /proc/self/status, in KiB; -1 if missing.
int64_t StatusKib(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::stoll(line.substr(name.size()));
  }
  return -1;
}

class LogProbeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Probe> Build(const std::string& yaml) {
    ProbeSpec spec;
    spec.key = {"carbon", "errors"};
    spec.kind = "log";
    spec.role = ProbeRole::kNone;
    spec.labels = Labels{{"job", "carbon"}};
    ConfigNode node(YAML::Load(yaml), "test.yml", &errors_);
    const ProbeKind* kind = FindProbeKind("log");
    EXPECT_NE(kind, nullptr);
    if (kind == nullptr) return nullptr;
    EXPECT_EQ(kind->default_role, ProbeRole::kNone);
    return kind->factory(spec, node, clock_);
  }
  Deadline Later() const { return {clock_.SteadyNow() + std::chrono::seconds(5)}; }
  static const Sample* Find(const ProbeResult& r, const std::string& name,
                            const std::string& severity = "") {
    for (const auto& s : r.samples) {
      if (s.name == name && s.labels.Get("severity") == severity) return &s;
    }
    return nullptr;
  }

  FakeClock clock_;
  ConfigErrors errors_;
  ScratchDir dir_;
};

TEST_F(LogProbeTest, RunReportsCountersEventsAndCursorForOneTransaction) {
  const std::string path = dir_.File("carbon.log");
  WriteWholeFile(path, "INFO a\nERROR b\nFATAL c\nERROR d\n");
  auto probe = Build("paths: [" + path + "]\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  ProbeResult r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  ASSERT_EQ(r.log_events.size(), 3u);
  EXPECT_EQ(r.log_events[0].severity, "error");
  EXPECT_EQ(r.log_events[0].line, "ERROR b");
  EXPECT_EQ(r.log_events[0].file, path);
  EXPECT_EQ(r.log_events[0].ts_ms, clock_.NowMs());
  EXPECT_EQ(r.log_events[1].severity, "critical");
  ASSERT_EQ(r.log_cursors.size(), 1u);
  EXPECT_EQ(r.log_cursors[0].path, path);
  EXPECT_EQ(r.log_cursors[0].offset, 31);
  EXPECT_EQ(r.log_cursors[0].key, (ProbeKey{"carbon", "errors"}));
  FakeState state;
  state.Commit(r);
  EXPECT_EQ(state.Total("obsmon_log_lines_read_total"), 4);
  EXPECT_EQ(state.Total("obsmon_log_bytes_read_total"), 31);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 2);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "critical"), 1);
  const Sample* errors = Find(r, "obsmon_log_matches_total", "error");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->value, 2);
  EXPECT_EQ(errors->labels.Get("component"), "carbon");
  EXPECT_EQ(errors->labels.Get("job"), "carbon");
  EXPECT_EQ(errors->labels.Get("source"), path);
  const Sample* lag = Find(r, "obsmon_log_scan_lag_bytes");
  ASSERT_NE(lag, nullptr);
  EXPECT_EQ(lag->value, 0);
}

// Storage commits a batch with counter increments without the group-commit wait (issue 17):
// a run that read lines carries them, a run that read nothing (the file unchanged, or only an
// unfinished line) carries none and waits like any other run.
TEST_F(LogProbeTest, OnlyARunThatReadLinesCarriesCounterIncrements) {
  const std::string path = dir_.File("carbon.log");
  WriteWholeFile(path, "INFO a\n");
  auto probe = Build("paths: [" + path + "]\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  ProbeResult first = probe->Run(Later());
  FakeState read_one;
  read_one.Commit(first);  // one line read, none matched: the line count still moved
  EXPECT_EQ(read_one.Total("obsmon_log_lines_read_total"), 1);
  EXPECT_EQ(read_one.Total("obsmon_log_matches_total"), 0);
  EXPECT_TRUE(probe->Run(Later()).counters.empty());
  AppendToFile(path, "ERROR b\n");
  ProbeResult appended = probe->Run(Later());
  EXPECT_FALSE(appended.counters.empty());
  ASSERT_EQ(appended.log_events.size(), 1u);
  AppendToFile(path, "no newline yet");
  EXPECT_TRUE(probe->Run(Later()).counters.empty());
}

TEST_F(LogProbeTest, RestoreContinuesCountersAndCursorsAcrossARestart) {
  const std::string path = dir_.File("carbon.log");
  WriteWholeFile(path, "ERROR 1\nERROR 2\n");
  FakeState state;
  {
    auto probe = Build("paths: [" + path + "]\n");
    probe->Restore(state);
    state.Commit(probe->Run(Later()));
  }
  AppendToFile(path, "ERROR 3\nINFO\n");
  auto probe = Build("paths: [" + path + "]\n");
  probe->Restore(state);
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 3);
  EXPECT_EQ(state.Total("obsmon_log_lines_read_total"), 4);
  ASSERT_EQ(r.log_events.size(), 1u);
  EXPECT_EQ(r.log_events[0].line, "ERROR 3");
  // The samples carry the restored total, not only this run's increment.
  EXPECT_EQ(Find(r, "obsmon_log_matches_total", "error")->value, 3);
}

// A file gone before it was read to its end (FollowOutput::files_missed) is a persisted counter
// with the file's labels, and its total goes on across a restart like the others (fresh eyes,
// stop 58: such losses had nothing but a run's detail to show them).
TEST_F(LogProbeTest, AFileGoneBeforeItWasReadIsCountedAcrossARestart) {
  const std::string path = dir_.File("carbon.log");
  // Rotated twice with one file kept (`rotate 1`): the file read last is gone, the one after it
  // holds lines.
  // Each new file made before the old one goes, so that it does not take its inode number.
  auto rotate_keeping_one = [&](const std::string& next) {
    if (std::filesystem::exists(path + ".1")) {
      ASSERT_EQ(::rename((path + ".1").c_str(), (path + ".old").c_str()), 0);
    }
    ASSERT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0);
    WriteWholeFile(path, next);
    std::filesystem::remove(path + ".old");
  };
  auto lose_a_generation = [&] {
    AppendToFile(path, "ERROR lost\n");
    rotate_keeping_one("ERROR kept\n");
    rotate_keeping_one("ERROR new\n");
  };
  WriteWholeFile(path, "ERROR 1\n");
  FakeState state;
  {
    auto probe = Build("paths: [" + path + "]\n");
    probe->Restore(state);
    state.Commit(probe->Run(Later()));
    EXPECT_EQ(state.Total("obsmon_log_files_missed_total"), 0);
    lose_a_generation();
    ProbeResult r = probe->Run(Later());
    EXPECT_TRUE(r.success) << r.reason;
    EXPECT_NE(r.detail.find("may be lost"), std::string::npos) << r.detail;
    state.Commit(r);
    EXPECT_EQ(state.Total("obsmon_log_files_missed_total"), 1);
  }
  lose_a_generation();
  auto probe = Build("paths: [" + path + "]\n");
  probe->Restore(state);
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  EXPECT_EQ(state.Total("obsmon_log_files_missed_total"), 2);
  bool labelled = false;
  for (const auto& c : r.counters) {
    labelled = labelled || (c.name == "obsmon_log_files_missed_total" &&
                            c.labels.Get("source") == path && c.labels.Get("job") == "carbon");
  }
  EXPECT_TRUE(labelled);
  // 1 and the two new ones: with the file read last gone, the kept ones are not read.
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 3);
}

TEST_F(LogProbeTest, UncommittedRunIsReadAgainAfterRestart) {
  // A crash between Run() and the commit: storage still has the old cursor and totals.
  const std::string path = dir_.File("carbon.log");
  WriteWholeFile(path, "ERROR 1\n");
  FakeState state;
  {
    auto probe = Build("paths: [" + path + "]\n");
    state.Commit(probe->Run(Later()));
    AppendToFile(path, "ERROR 2\n");
    probe->Run(Later());  // lost
  }
  auto probe = Build("paths: [" + path + "]\n");
  probe->Restore(state);
  state.Commit(probe->Run(Later()));
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 2);
}

// The daemon restores a running probe when storage lost one of its batches after accepting it.
// The lines of that run are read again and counted once, also those of a file storage has no cursor
// of yet (the probe's first run, a glob's new match), and the totals the samples carry are
// storage's, not the lost run's.
TEST_F(LogProbeTest, ARunStorageLostIsReadAgainAfterARestoreOfTheSameProbe) {
  const std::string path = dir_.File("carbon.log");
  WriteWholeFile(path, "ERROR 1\nERROR 2\n");
  FakeState state;
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  probe->Restore(state);
  state.Commit(probe->Run(Later()));
  AppendToFile(path, "ERROR 3\n");
  WriteWholeFile(dir_.File("new.log"), "ERROR new\nINFO new\n");  // a new glob match
  ProbeResult lost = probe->Run(Later());  // lost: never committed
  ASSERT_EQ(lost.log_events.size(), 2u);

  probe->Restore(state);
  ProbeResult again = probe->Run(Later());
  state.Commit(again);
  EXPECT_EQ(again.log_events.size(), 2u);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 4);
  EXPECT_EQ(state.Total("obsmon_log_lines_read_total"), 5);
  for (const auto& s : again.samples) {
    if (s.name != "obsmon_log_matches_total" || s.labels.Get("severity") != "error") continue;
    const std::string source = s.labels.Get("source");
    EXPECT_EQ(s.value, source == path ? 3 : 1) << source;
  }
  // Nothing is left to read: a second restore and run add nothing.
  probe->Restore(state);
  EXPECT_TRUE(probe->Run(Later()).counters.empty());
}

TEST_F(LogProbeTest, SeveritiesKeepTheirOrderAndCaseOption) {
  const std::string path = dir_.File("app.log");
  WriteWholeFile(path, "warn: disk\nan Error here\n");
  auto probe = Build("paths: " + path +
                     "\nseverities:\n  warning: '\\bwarn\\b'\n  error: 'error'\n"
                     "case_insensitive: true\nmax_line_bytes: 64\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  ProbeResult r = probe->Run(Later());
  ASSERT_EQ(r.log_events.size(), 2u);
  EXPECT_EQ(r.log_events[0].severity, "warning");
  EXPECT_EQ(r.log_events[1].severity, "error");
  EXPECT_NE(Find(r, "obsmon_log_matches_total", "warning"), nullptr);
  EXPECT_EQ(Find(r, "obsmon_log_matches_total", "critical"), nullptr);
}

TEST_F(LogProbeTest, GlobFollowsEveryMatchingFile) {
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  WriteWholeFile(dir_.File("b.log"), "ERROR b\nERROR b2\n");
  WriteWholeFile(dir_.File("b.log.1"), "ERROR old\n");  // rotated: not a followed path
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ProbeResult r = probe->Run(Later());
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.log_events.size(), 3u);
  EXPECT_EQ(r.log_cursors.size(), 2u);
}

// Fresh eyes (stop 40): a FIFO matched by a glob gave a successful run with no word of it,
// while the same FIFO named explicitly failed with "not a regular file". A glob's match that
// cannot be read is now a trouble as an explicit path's is; a subdirectory its wildcard
// matches is not followed, and a match that went away is no trouble.
TEST_F(LogProbeTest, AGlobMatchThatCannotBeReadFailsTheRunButASubdirectoryOrAGoneOneDoesNot) {
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  ASSERT_EQ(::mkdir(dir_.File("sub.log").c_str(), 0755), 0);
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ProbeResult r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.log_events.size(), 1u);
  EXPECT_EQ(r.log_cursors.size(), 1u) << "the subdirectory is not followed";

  ASSERT_EQ(::mkfifo(dir_.File("pipe.log").c_str(), 0644), 0);
  r = probe->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, dir_.File("pipe.log") + ": not a regular file");

  // A symlink to a missing file is a log that cannot be read too (fresh eyes, stop 41: silent
  // for a glob, "no such file" for the same path written out).
  ASSERT_EQ(::unlink(dir_.File("pipe.log").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.File("nowhere").c_str(), dir_.File("dangling.log").c_str()), 0);
  r = probe->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, dir_.File("dangling.log") + ": no such file (a symlink to a missing file)");
  ASSERT_EQ(::unlink(dir_.File("dangling.log").c_str()), 0);

  // A followed file replaced by a directory is skipped as one there from the start is
  // (fresh eyes, stop 41: "is a directory" until a restart, then silent).
  WriteWholeFile(dir_.File("x.log"), "ERROR x\n");
  r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  ASSERT_EQ(::unlink(dir_.File("x.log").c_str()), 0);
  ASSERT_EQ(::mkdir(dir_.File("x.log").c_str(), 0755), 0);
  r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  ASSERT_EQ(::rmdir(dir_.File("x.log").c_str()), 0);

  // The FIFO gone (and a.log rotated away): nothing to report, the probe is up again.
  ASSERT_EQ(::rename(dir_.File("a.log").c_str(), dir_.File("a.log.1").c_str()), 0);
  WriteWholeFile(dir_.File("b.log"), "ERROR b\n");
  r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.log_events.size(), 1u);
}

// Fresh eyes, issue 13, second pass: `paths: ["/**/**/**/*"]` passed check, and its run walked
// the whole file system past its timeout and SIGTERM (RSS past 1 GB). A glob has at most three
// wildcard segments (refused at load) and may match at most 1,000 files (a down run).
TEST_F(LogProbeTest, GlobsAreBoundedLikeRuleFiles) {
  EXPECT_EQ(Build("paths: ['/**/**/**/*']\n"), nullptr);
  EXPECT_NE(errors_.ToString().find(
                "test.yml:1:8: glob '/**/**/**/*' has 4 path segments with wildcards (at most 3)"),
            std::string::npos)
      << errors_.ToString();
  errors_ = ConfigErrors();
  for (int i = 0; i <= 1000; ++i) WriteWholeFile(dir_.File("f" + std::to_string(i) + ".log"), "x\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  ProbeResult r = probe->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, dir_.path() + "/*.log: glob '" + dir_.path() +
                          "/*.log' matches 1001 paths (at most 1000) (max_files)");
  EXPECT_TRUE(r.log_cursors.empty()) << "no file of a refused glob is followed";
}

size_t CountSources(const ProbeResult& r, const std::string& name) {
  std::set<std::string> sources;
  for (const auto& s : r.samples) {
    if (s.name == name) sources.insert(s.labels.Get("source"));
  }
  return sources.size();
}

double FilesFollowed(const ProbeResult& r) {
  for (const auto& s : r.samples) {
    if (s.name == "obsmon_log_files_followed") return s.value;
  }
  return -1;
}

// Fresh eyes (stop 47): a glob's matches were never forgotten. 30 files a second, each deleted
// after 3 s, grew obsmon to 252 MB and 35,905 series in 4 minutes, every total sent every run,
// and a restart brought them all back. A match gone with every rotation of it is retired: its
// follower and totals go, storage is told to forget its cursor and counters.
TEST_F(LogProbeTest, AGlobMatchGoneWithItsRotationsIsForgottenHereAndInStorage) {
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  WriteWholeFile(dir_.File("b.log"), "ERROR b\nERROR b2\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  FakeState state;
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  EXPECT_EQ(FilesFollowed(r), 2);
  EXPECT_EQ(CountSources(r, "obsmon_log_lines_read_total"), 2u);
  EXPECT_EQ(state.cursors.size(), 2u);

  ASSERT_EQ(::unlink(dir_.File("b.log").c_str()), 0);
  r = probe->Run(Later());
  state.Commit(r);
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(FilesFollowed(r), 1);
  // b.log's totals are sent a last time (what this run read of it counts), its lag no more.
  EXPECT_EQ(CountSources(r, "obsmon_log_lines_read_total"), 2u);
  EXPECT_EQ(CountSources(r, "obsmon_log_scan_lag_bytes"), 1u);
  EXPECT_EQ(state.cursors.size(), 1u);
  EXPECT_EQ(state.cursors.count(dir_.File("a.log")), 1u);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 1) << "b.log's counters forgotten";
  // Forgotten once: the next run says nothing more of it.
  r = probe->Run(Later());
  EXPECT_EQ(CountSources(r, "obsmon_log_lines_read_total"), 1u) << "b.log's totals are not sent";
  for (const auto& c : r.log_cursors) EXPECT_NE(c.path, dir_.File("b.log"));
  EXPECT_TRUE(r.counters.empty());

  // A file of the same name made later is a new file, read from its start.
  WriteWholeFile(dir_.File("b.log"), "ERROR again\n");
  r = probe->Run(Later());
  state.Commit(r);
  ASSERT_EQ(r.log_events.size(), 1u);
  EXPECT_EQ(r.log_events[0].line, "ERROR again");
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 2);
}

// Rotated away and no new file made (yet): the rotation is finished from the cursor, then the
// match is forgotten; it does not hold a place for as long as the rotation lies there (fresh
// eyes, stop 48: `job-N.log.1` left by each job held max_files until every new file was
// refused). A file of that name made later is new and read from its start.
TEST_F(LogProbeTest, AMatchRotatedAwayIsFinishedFromItsRotationThenForgotten) {
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  FakeState state;
  state.Commit(probe->Run(Later()));
  AppendToFile(dir_.File("a.log"), "ERROR tail\n");
  ASSERT_EQ(::rename(dir_.File("a.log").c_str(), dir_.File("a.log.1").c_str()), 0);
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  ASSERT_EQ(r.log_events.size(), 1u);
  EXPECT_EQ(r.log_events[0].line, "ERROR tail");
  EXPECT_EQ(FilesFollowed(r), 0);
  EXPECT_TRUE(state.cursors.empty());
  EXPECT_TRUE(state.counters.empty());
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");  // the same first line: still a new file
  r = probe->Run(Later());
  ASSERT_EQ(r.log_events.size(), 1u);
  EXPECT_EQ(FilesFollowed(r), 1);
}

// A file deleted while obsmon was down: its stored cursor is followed once after the restart,
// found gone and forgotten, instead of its totals coming back for good. An explicit path is
// never forgotten (it is reported while missing).
TEST_F(LogProbeTest, AStoredMatchDeletedWhileDownIsForgottenAtTheFirstRun) {
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  WriteWholeFile(dir_.File("b.log"), "ERROR b\n");
  const std::string fixed = dir_.File("fixed.txt");
  WriteWholeFile(fixed, "ERROR f\n");
  const std::string yaml = "paths: ['" + dir_.path() + "/*.log', " + fixed + "]\n";
  FakeState state;
  {
    auto probe = Build(yaml);
    ASSERT_NE(probe, nullptr) << errors_.ToString();
    state.Commit(probe->Run(Later()));
  }
  ASSERT_EQ(state.cursors.size(), 3u);
  ASSERT_EQ(::unlink(dir_.File("b.log").c_str()), 0);
  ASSERT_EQ(::unlink(fixed.c_str()), 0);
  auto probe = Build(yaml);
  probe->Restore(state);
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, fixed + ": no such file");
  EXPECT_EQ(state.cursors.size(), 2u);
  EXPECT_EQ(state.cursors.count(dir_.File("b.log")), 0u);
  EXPECT_EQ(FilesFollowed(r), 2);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 2);
}

// max_files bounds the followers: matches past it are not followed, and the run says so.
TEST_F(LogProbeTest, MaxFilesBoundsTheFilesFollowedAndTheRunSaysWhatItLeft) {
  for (const char* f : {"a.log", "b.log", "c.log"}) WriteWholeFile(dir_.File(f), "ERROR x\n");
  auto probe = Build("max_files: 2\npaths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  ProbeResult r = probe->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, dir_.path() + "/*.log: glob '" + dir_.path() +
                          "/*.log' matches 3 paths (at most 2) (max_files)");
  ASSERT_EQ(::unlink(dir_.File("c.log").c_str()), 0);
  r = probe->Run(Later());
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(FilesFollowed(r), 2);
  // Two globs, two files each: the second's are refused while the first's are followed.
  ScratchDir other;
  WriteWholeFile(other.File("x.txt"), "ERROR y\n");
  auto two = Build("max_files: 2\npaths: ['" + dir_.path() + "/*.log', '" + other.path() +
                   "/*.txt']\n");
  ASSERT_NE(two, nullptr) << errors_.ToString();
  r = two->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "1 matching file not followed: 2 are, max_files is 2");
  EXPECT_EQ(FilesFollowed(r), 2);
  EXPECT_EQ(Build("max_files: 0\npaths: [/tmp/x.log]\n"), nullptr);
  EXPECT_NE(errors_.ToString().find("test.yml:1:12: 'max_files' must be between 1 and 100000"),
            std::string::npos)
      << errors_.ToString();
}

// Fresh eyes (stop 48): with max_files 60 and at most 46 files alive, 91 of 100 runs refused
// files, because those deleted since the last run still held their places until the run read
// them. The places a run's retirements free go to the files waiting, in the same run; and a
// stored cursor max_files had no place for is taken by a later run (they stayed until the next
// restart).
TEST_F(LogProbeTest, PlacesFreedByDeletedFilesGoToNewOnesInTheSameRun) {
  for (const char* f : {"a.log", "b.log"}) WriteWholeFile(dir_.File(f), "ERROR x\n");
  const std::string yaml = "max_files: 2\npaths: ['" + dir_.path() + "/*.log']\n";
  auto probe = Build(yaml);
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  FakeState state;
  state.Commit(probe->Run(Later()));
  ASSERT_EQ(::unlink(dir_.File("a.log").c_str()), 0);
  ASSERT_EQ(::unlink(dir_.File("b.log").c_str()), 0);
  for (const char* f : {"c.log", "d.log"}) WriteWholeFile(dir_.File(f), "ERROR y\n");
  ProbeResult r = probe->Run(Later());
  state.Commit(r);
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.log_events.size(), 2u);
  EXPECT_EQ(FilesFollowed(r), 2);
  EXPECT_EQ(state.cursors.size(), 2u);
  EXPECT_EQ(state.cursors.count(dir_.File("c.log")), 1u);

  // Down: c.log and d.log deleted, e.log made. max_files 1 after the restart: one place.
  ASSERT_EQ(::unlink(dir_.File("c.log").c_str()), 0);
  ASSERT_EQ(::unlink(dir_.File("d.log").c_str()), 0);
  WriteWholeFile(dir_.File("e.log"), "ERROR z\n");
  auto again = Build("max_files: 1\npaths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(again, nullptr) << errors_.ToString();
  again->Restore(state);
  for (int run = 0; run < 3; ++run) state.Commit(again->Run(Later()));
  EXPECT_EQ(state.cursors.size(), 1u);
  EXPECT_EQ(state.cursors.count(dir_.File("e.log")), 1u);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), 1) << "c.log's and d.log's forgotten";
}

// Fresh eyes (stop 48): over max_files, a stored cursor whose file is still there was read by
// every run although not followed, its counts never exported. It waits, unread, as a new match.
TEST_F(LogProbeTest, AStoredFileStillThereWaitsForAPlaceUnread) {
  for (const char* f : {"a.log", "b.log"}) WriteWholeFile(dir_.File(f), "ERROR x\n");
  FakeState state;
  {
    auto probe = Build("max_files: 2\npaths: ['" + dir_.path() + "/*.log']\n");
    ASSERT_NE(probe, nullptr) << errors_.ToString();
    state.Commit(probe->Run(Later()));
  }
  AppendToFile(dir_.File("b.log"), "ERROR new\n");
  auto probe = Build("max_files: 1\npaths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  probe->Restore(state);
  for (int run = 0; run < 2; ++run) {
    ProbeResult r = probe->Run(Later());
    EXPECT_TRUE(r.log_events.empty()) << r.log_events.front().line;
    EXPECT_FALSE(r.success) << "the glob matches more than max_files";
    EXPECT_EQ(FilesFollowed(r), 1);
  }
  EXPECT_EQ(state.cursors.size(), 2u) << "b.log's cursor waits in storage";
}

// Fresh eyes (stop 48): a first glob slow to list (200,000 files) past a 20 ms timeout kept the
// second from ever being listed. Past the timeout the listing stops after one glob, and the
// next run begins with the first it left.
TEST_F(LogProbeTest, PastTheTimeoutGlobsAreListedInTurn) {
  ScratchDir other;
  WriteWholeFile(dir_.File("a.log"), "ERROR a\n");
  WriteWholeFile(other.File("b.log"), "ERROR b\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log', '" + other.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  const Deadline past{clock_.SteadyNow()};
  ProbeResult first = probe->Run(past);
  ASSERT_EQ(first.log_events.size(), 1u);
  EXPECT_EQ(first.log_events[0].line, "ERROR a");
  EXPECT_NE(first.detail.find("1 of 2 globs not listed: the timeout came first"),
            std::string::npos)
      << first.detail;
  // The second run lists the second glob first, and b.log is followed; it is read by that run
  // or the next (one file a run past the timeout, in turn).
  std::vector<std::string> later;
  for (int run = 0; run < 2; ++run) {
    for (const auto& e : probe->Run(past).log_events) later.push_back(e.line);
  }
  EXPECT_EQ(later, std::vector<std::string>{"ERROR b"});
}

// Past the timeout a run stops between files, and the next begins where it stopped: every
// file is read in turn, however many there are (before, a run polled every file whatever its
// deadline said, and a later file could wait behind the earlier ones for ever).
TEST_F(LogProbeTest, PastTheTimeoutARunStopsBetweenFilesAndTheNextGoesOnFromThere) {
  for (const char* f : {"a.log", "b.log", "c.log"}) WriteWholeFile(dir_.File(f), "INFO x\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  probe->Run(Later());
  for (const char* f : {"a.log", "b.log", "c.log"}) {
    AppendToFile(dir_.File(f), std::string("ERROR ") + f + "\n");
  }
  const Deadline past{clock_.SteadyNow()};
  std::vector<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    ProbeResult r = probe->Run(past);
    ASSERT_EQ(r.log_events.size(), 1u) << "run " << i;
    seen.push_back(r.log_events[0].line);
    EXPECT_NE(r.detail.find("2 of 3 files not read: the timeout came first"), std::string::npos)
        << r.detail;
    EXPECT_EQ(CountSources(r, "obsmon_log_scan_lag_bytes"), 3u) << "the unread keep their lag";
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ERROR a.log", "ERROR b.log", "ERROR c.log"}));
}

// The followers of a probe share one read buffer. Each had its own before: 1 MiB of address
// space a file (a mapping each, against vm.max_map_count's 65,530 at max_files 100,000) with
// what a read had touched of it kept resident (fresh eyes, stop 48: 5,000 idle files, 264 MB).
TEST_F(LogProbeTest, FollowersShareOneReadBuffer) {
  constexpr int kFiles = 200;
  const std::string line(99, 'x');
  std::string text;
  for (int i = 0; i < 400; ++i) text += line + "\n";  // 40,000 bytes: ten pages of a buffer
  for (int i = 0; i < kFiles; ++i) WriteWholeFile(dir_.File(std::to_string(i) + ".log"), text);
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  const int64_t size_before = StatusKib("VmSize:");
  const ProbeResult r = probe->Run(Later());
  const int64_t size_after = StatusKib("VmSize:");
  ASSERT_TRUE(r.success) << r.reason;
  ASSERT_EQ(FilesFollowed(r), kFiles);
  ASSERT_GE(size_before, 0);
  // One buffer of read_chunk_bytes (1 MiB) and the run's own allocations; one a file would be
  // 200 MiB.
  EXPECT_LT(size_after - size_before, 32 * 1024)
      << "KiB of address space for " << kFiles << " files";
}

// /metrics exports at most its series limit, in the order a run gives them: the probe's gauge
// goes before the files' series (fresh eyes, stop 49: at 20,000 files it was left out).
TEST_F(LogProbeTest, TheFilesFollowedGaugeComesBeforeTheFilesSeries) {
  for (const char* f : {"a.log", "b.log"}) WriteWholeFile(dir_.File(f), "ERROR x\n");
  auto probe = Build("paths: ['" + dir_.path() + "/*.log']\n");
  ASSERT_NE(probe, nullptr) << errors_.ToString();
  const ProbeResult r = probe->Run(Later());
  ASSERT_GT(r.samples.size(), 1u);
  EXPECT_EQ(r.samples.front().name, "obsmon_log_files_followed");
  EXPECT_EQ(r.samples.front().value, 2);
}

// A symlink loop is named as one, not as a symlink to a missing file (fresh eyes, stop 49).
TEST_F(LogProbeTest, ASymlinkLoopIsNamedAsOne) {
  ASSERT_EQ(::symlink(dir_.File("b.log").c_str(), dir_.File("a.log").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.File("a.log").c_str(), dir_.File("b.log").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.File("gone.log").c_str(), dir_.File("c.log").c_str()), 0);
  auto loop = Build("paths: ['" + dir_.File("a.log") + "']\n");
  ASSERT_NE(loop, nullptr) << errors_.ToString();
  ProbeResult r = loop->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("(a loop of symlinks)"), std::string::npos) << r.reason;
  auto dangling = Build("paths: ['" + dir_.File("c.log") + "']\n");
  ASSERT_NE(dangling, nullptr) << errors_.ToString();
  r = dangling->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("(a symlink to a missing file)"), std::string::npos) << r.reason;
}

TEST_F(LogProbeTest, MissingFileIsAFailedRunWithAReasonAndTheProbeGoesOn) {
  const std::string path = dir_.File("none.log");
  auto probe = Build("paths: [" + path + "]\n");
  ProbeResult r = probe->Run(Later());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, path + ": no such file");
  WriteWholeFile(path, "CRITICAL now\n");
  r = probe->Run(Later());
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.log_events.size(), 1u);
}

TEST_F(LogProbeTest, BadConfigurationIsReportedWithPosition) {
  EXPECT_EQ(Build("severities:\n  error: 'ERROR('\npaths: [/tmp/x.log]\n"), nullptr);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_.ToString().find("test.yml:2:"), std::string::npos) << errors_.ToString();
  EXPECT_NE(errors_.ToString().find("bad pattern"), std::string::npos);
  ConfigErrors none;
  errors_ = none;
  EXPECT_EQ(Build("max_line_bytes: 3\n"), nullptr);
  EXPECT_NE(errors_.ToString().find("missing required key 'paths'"), std::string::npos);
  EXPECT_NE(errors_.ToString().find("max_line_bytes"), std::string::npos);
}

}  // namespace
}  // namespace obsmon::probes
