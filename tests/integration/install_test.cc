// obsmon as the operator gets it: `DESTDIR=... cmake --install` stages the binary, the unit, the
// service's example config and the guide's rules, and the installed obsmon accepts the installed
// example as it lies there (absolute paths, its rules found next to it). And the README's demo
// script, stopped by its pid, stops the obsmon it started.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::ScratchDir;
using testing::WriteWholeFile;

const std::string kSource = OBSMON_SOURCE_DIR;

// A cache entry of this build ("CMAKE_INSTALL_PREFIX:PATH=/usr/local"): where it installs.
std::string CacheValue(const std::string& name) {
  std::istringstream cache(ReadWholeFile(std::string(OBSMON_BINARY_DIR) + "/CMakeCache.txt"));
  for (std::string line; std::getline(cache, line);) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(line.find('=') + 1);
  }
  return "";
}

// How many alerting rules a rule file holds, counted from its text (not by obsmon's loader).
size_t CountAlerts(const std::string& rule_file) {
  std::istringstream in(ReadWholeFile(rule_file));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, std::regex(R"(^\s*-\s*alert:)"))) ++n;
  }
  return n;
}

// Every file-system path the config names: storage.path, exec commands and workdirs, log paths,
// codecarbon dirs. Read from the text with patterns, independently of obsmon's loader.
std::vector<std::string> PathsNamed(const std::string& config) {
  std::vector<std::string> paths;
  const std::regex scalar(R"(^\s*(?:path|dir|workdir):\s*(\S+))");
  const std::regex list(R"(^\s*(?:command|paths):\s*\[\s*([^,\]\s]+))");
  std::istringstream in(config);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, scalar) || std::regex_search(line, m, list)) {
      paths.push_back(m[1]);
    }
  }
  return paths;
}

struct Staged {
  ScratchDir dir;
  std::string prefix = CacheValue("CMAKE_INSTALL_PREFIX");
  std::string config_dir = CacheValue("OBSMON_CONFIG_DIR");
  std::string Path(const std::string& absolute) const { return dir.path() + absolute; }
};

TEST(InstallTest, DestdirInstallStagesAnExampleConfigThatChecksAsInstalled) {
  Staged s;
  ASSERT_FALSE(s.prefix.empty());
  ASSERT_EQ(s.config_dir, "/etc/obsmon");  // where the unit looks, whatever the prefix
  auto [code, out] = RunCommand(
      {"env", "DESTDIR=" + s.dir.path(), "cmake", "--install", OBSMON_BINARY_DIR},
      s.dir.File("install.out"));
  ASSERT_EQ(code, 0) << out;
  for (const std::string& f :
       {s.prefix + "/bin/obsmon", s.prefix + "/lib/systemd/system/obsmon.service",
        s.config_dir + "/obsmon.yml.example", s.config_dir + "/rules/carbon.yml",
        s.prefix + "/share/obsmon/prometheus/obsmon-rules.yml",
        s.prefix + "/share/obsmon/prometheus/prometheus.yml",
        s.prefix + "/share/obsmon/grafana/obsmon-dashboard.json",
        s.prefix + "/share/doc/obsmon/operations.md"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(s.Path(f))) << f << "\n" << out;
  }
  // Nothing outside DESTDIR: every staged file is under the prefix or the config directory.
  for (const auto& e : std::filesystem::recursive_directory_iterator(s.dir.path())) {
    if (!e.is_regular_file() || e.path().filename() == "install.out") continue;
    const std::string p = e.path().string().substr(s.dir.path().size());
    EXPECT_TRUE(p.rfind(s.prefix + "/", 0) == 0 || p.rfind(s.config_dir + "/", 0) == 0) << p;
  }

  const std::string unit = ReadWholeFile(s.Path(s.prefix + "/lib/systemd/system/obsmon.service"));
  const std::string config_arg = "--config " + s.config_dir + "/obsmon.yml";
  EXPECT_NE(unit.find("ExecStart=" + s.prefix + "/bin/obsmon run " + config_arg), std::string::npos)
      << unit;
  EXPECT_NE(unit.find("ExecStartPre=" + s.prefix + "/bin/obsmon check " + config_arg),
            std::string::npos)
      << unit;

  // The example as installed: every path absolute, the database in the unit's only writable
  // directory, nothing of the source tree (build/, ../).
  const std::string example_path = s.Path(s.config_dir + "/obsmon.yml.example");
  const std::string example = ReadWholeFile(example_path);
  const auto paths = PathsNamed(example);
  EXPECT_GE(paths.size(), 6u) << example;
  for (const auto& p : paths) EXPECT_EQ(p.rfind('/', 0), 0u) << "relative path " << p;
  EXPECT_NE(example.find("path: /var/lib/obsmon/obsmon.db"), std::string::npos);
  EXPECT_NE(unit.find("ReadWritePaths=/var/lib/obsmon\n"), std::string::npos);
  // SIGTERM to obsmon alone: it ends its exec probes' commands itself and records nothing of
  // those runs; systemd's default would signal the commands too, and a command that died of it
  // first would be stored as a failed run (docs/operations.md).
  EXPECT_NE(unit.find("\nKillMode=mixed\n"), std::string::npos) << unit;
  EXPECT_EQ(example.find("build/"), std::string::npos);
  EXPECT_EQ(example.find("../"), std::string::npos);

  // The installed binary accepts it, and found the installed rules through its relative glob.
  const size_t rules = CountAlerts(s.Path(s.config_dir + "/rules/carbon.yml"));
  ASSERT_EQ(rules, 2u);  // the guide's HighCarbonEmissions and CarbonComponentDown
  auto [check, said] = RunCommand({s.Path(s.prefix + "/bin/obsmon"), "check", "--config",
                                   example_path},
                                  s.dir.File("check.out"));
  EXPECT_EQ(check, 0) << said;
  EXPECT_NE(said.find("OK (1 components, 7 probes, 1 rule file patterns, " +
                      std::to_string(rules) + " rules)"),
            std::string::npos)
      << said;
  if (std::filesystem::exists("/usr/bin/promtool")) {
    auto [prc, pout] = RunCommand({"promtool", "check", "rules",
                                   s.Path(s.config_dir + "/rules/carbon.yml")},
                                  s.dir.File("promtool.out"));
    EXPECT_EQ(prc, 0) << pout;
  }

  // Without the rules next to it the count says so (the figure above came from the files).
  std::filesystem::remove_all(s.Path(s.config_dir + "/rules"));
  auto [check2, said2] = RunCommand({s.Path(s.prefix + "/bin/obsmon"), "check", "--config",
                                     example_path},
                                    s.dir.File("check2.out"));
  EXPECT_NE(said2.find("1 rule file patterns, 0 rules)"), std::string::npos) << said2;
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// The children of `parent` whose command name is `comm` (from /proc, as ps would show them).
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& comm) {
  std::vector<pid_t> found;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadWholeFile(e.path().string() + "/stat");
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && stat.substr(open + 1, close - open - 1) == comm) {
      found.push_back(std::stoi(name));
    }
  }
  return found;
}

// The README's demo in a copy of the repository's layout: the script and config as shipped, the
// build directory linked, installing and building stubbed out (done already).
TEST(InstallTest, DemoScriptStoppedByItsPidStopsObsmon) {
  ScratchDir root;
  std::filesystem::create_directories(root.File("scripts"));
  std::filesystem::create_directories(root.File("examples"));
  std::filesystem::copy_file(kSource + "/scripts/demo.sh", root.File("scripts/demo.sh"));
  std::filesystem::copy_file(kSource + "/examples/obsmon.yml", root.File("examples/obsmon.yml"));
  for (const char* stub : {"scripts/install-deps.sh", "scripts/build.sh"}) {
    WriteWholeFile(root.File(stub), "#!/bin/sh\nexit 0\n");
    std::filesystem::permissions(root.File(stub), std::filesystem::perms::owner_all);
  }
  std::filesystem::create_directory_symlink(OBSMON_BINARY_DIR, root.File("build"));

  const int port = testing::FreeLoopbackPort();
  testing::Subprocess demo({"bash", root.File("scripts/demo.sh"), "--listen",
                            "127.0.0.1:" + std::to_string(port)},
                           root.File("demo.out"));
  ASSERT_TRUE(demo.started());
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(testing::WaitUntil([&] { return client.Get("/healthz") != nullptr; }, 30s))
      << demo.Output();
  const auto obsmons = ChildrenNamed(demo.pid(), "obsmon");
  ASSERT_EQ(obsmons.size(), 1u) << demo.Output();
  const auto components = ChildrenNamed(demo.pid(), "obsmon-demo-com");  // comm: 15 characters
  ASSERT_EQ(components.size(), 1u) << demo.Output();

  ::kill(demo.pid(), SIGTERM);  // `kill PID`, as a user or a supervisor stops it
  ASSERT_TRUE(demo.Wait(30s).has_value()) << demo.Output();
  EXPECT_TRUE(testing::WaitUntil([&] { return !Alive(obsmons[0]); }, 10s))
      << "obsmon (pid " << obsmons[0] << ") outlived the demo script\n" << demo.Output();
  EXPECT_TRUE(testing::WaitUntil([&] { return !Alive(components[0]); }, 10s));
  EXPECT_EQ(client.Get("/healthz"), nullptr) << "port " << port << " still answers";
  // It drained and closed the database as on any SIGTERM.
  EXPECT_NE(demo.Output().find("draining and exiting"), std::string::npos) << demo.Output();
  for (pid_t pid : {obsmons[0], components[0]}) {
    if (Alive(pid)) ::kill(pid, SIGKILL);
  }
}

}  // namespace
}  // namespace obsmon
