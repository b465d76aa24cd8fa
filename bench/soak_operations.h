// What a user does to a daemon during an observation week, done to the soak's daemon on a timer
// (OBSMON_SOAK_OPERATE=MINUTES): a soak that only watches the daemon measures a daemon nobody
// touches. Each round, in turn: a SIGHUP reload of the unchanged config (then /healthz must
// answer 200 within 10 s), the component's HTML report of the last day over HTTP, an
// `obsmon report` of the last hour from the CLI beside the daemon, and an online backup with
// `sqlite3 .backup` whose copy must pass `PRAGMA integrity_check`. Each outcome is counted, and a
// failure's first line kept, so that the memory figures are of a daemon operated, and say so.
// OBSMON_SOAK_OPERATIONS=reload,report,cli,backup (a comma-separated subset) does only those, to
// tell which of them a figure follows.
//
// The daemon's kernel high-water mark (VmHWM) is charged to what raised it: it is reset
// (/proc/<pid>/clear_refs 5) before each operation and read when the operation is done, and
// reset again, so the peak read before the next one is the daemon's own work in between
// (refreshes, rule cycles, sealed hours). PeakSummary() prints the largest of each; peak_mb()
// is the largest of all, which VmHWM alone no longer is once it has been reset.
#pragma once

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "bench/proc_stats.h"
#include "tests/support/subprocess.h"

namespace obsmon::bench {

class SoakOperator {
 public:
  struct Setup {
    std::string obsmon;     // the binary
    std::string config;     // the daemon's config file
    std::string db;         // its database
    std::string scratch;    // a directory for the backup and the commands' output
    std::string component;  // the component reported on
    int port = 0;           // the daemon's HTTP port
    pid_t pid = 0;          // the daemon
    std::string operations = "reload,report,cli,backup";  // which of the four a round does
  };

  // every_s <= 0: nothing is done.
  SoakOperator(Setup setup, int every_s) : setup_(std::move(setup)), every_s_(every_s) {
    if (every_s_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~SoakOperator() { Stop(); }
  SoakOperator(const SoakOperator&) = delete;
  SoakOperator& operator=(const SoakOperator&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool enabled() const { return every_s_ > 0; }
  const std::string& operations() const { return setup_.operations; }
  // Rounds done and operations failed so far.
  int rounds() const { return rounds_; }
  int failed() const { return failed_; }

  // The largest high-water mark seen, in MB: before any operation, VmHWM itself.
  double peak_mb() const {
    std::lock_guard lock(mu_);
    return std::max(peak_mb_, ReadProc(setup_.pid).peak_rss_mb);
  }

  // "between 61.0 MB, reload 63.2 MB, HTTP report 70.1 MB, ...": the largest high-water mark
  // reached during each operation and between them.
  std::string PeakSummary() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [what, mb] : peaks_) {
      char figure[64];
      std::snprintf(figure, sizeof figure, "%s%s %.1f MB", out.empty() ? "" : ", ", what.c_str(),
                    mb);
      out += figure;
    }
    return out;
  }

  // "reloads 12/12, reports 12/12, cli 12/12, backups 12/12" and the first failure, if any.
  std::string Summary() const {
    std::lock_guard lock(mu_);
    std::string out = "reloads " + Tally(reloads_) + ", HTTP reports " + Tally(reports_) +
                      ", CLI reports " + Tally(cli_) + ", backups checked " + Tally(backups_);
    if (!first_failure_.empty()) out += "; first failure: " + first_failure_;
    return out;
  }

 private:
  struct Count {
    int ok = 0;
    int tried = 0;
  };
  static std::string Tally(const Count& c) {
    return std::to_string(c.ok) + "/" + std::to_string(c.tried);
  }

  void Loop() {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, std::chrono::seconds(every_s_), [this] { return stop_; })) {
      lock.unlock();
      Round();
      lock.lock();
    }
  }

  bool Does(const std::string& operation) const {
    return ("," + setup_.operations + ",").find("," + operation + ",") != std::string::npos;
  }

  void Round() {
    using namespace std::chrono_literals;
    httplib::Client http("127.0.0.1", setup_.port);
    http.set_read_timeout(60s);
    ChargePeakTo("between");
    if (Does("reload")) {
      Reload(http);
      ChargePeakTo("reload");
    }
    if (Does("report")) {
      HttpReport(http);
      ChargePeakTo("HTTP report");
    }
    if (Does("cli")) {
      CliReport();
      ChargePeakTo("CLI report");
    }
    if (Does("backup")) {
      Backup();
      ChargePeakTo("backup");
    }
    ++rounds_;
  }

  // Charges the high-water mark since the last reset to `what` and resets it.
  void ChargePeakTo(const std::string& what) {
    std::lock_guard lock(mu_);  // peak_mb() must not read between the reading and the reset
    const double mb = ReadProc(setup_.pid).peak_rss_mb;
    std::ofstream("/proc/" + std::to_string(setup_.pid) + "/clear_refs") << "5";
    peak_mb_ = std::max(peak_mb_, mb);
    peaks_[what] = std::max(peaks_[what], mb);
  }

  void Reload(httplib::Client& http) {
    using namespace std::chrono_literals;
    ::kill(setup_.pid, SIGHUP);
    Record(reloads_, testing::WaitUntil(
                         [&] {
                           auto res = http.Get("/healthz");
                           return res && res->status == 200;
                         },
                         10s),
           "after SIGHUP /healthz did not answer 200 within 10 s");
  }

  void HttpReport(httplib::Client& http) {
    auto report = http.Get("/api/v1/components/" + setup_.component + "/report?last=24h&format=html");
    Record(reports_, report && report->status == 200 && report->body.find("</html>") != std::string::npos,
           "HTTP report: " + (report ? std::to_string(report->status) : httplib::to_string(report.error())));
  }

  void CliReport() {
    const auto [cli_code, cli_out] = testing::RunCommand(
        {setup_.obsmon, "report", setup_.component, "--config", setup_.config, "--last", "1h",
         "--format", "json"},
        setup_.scratch + "/cli.out");
    Record(cli_, cli_code == 0 && cli_out.find("obsmon.report/v1") != std::string::npos,
           "obsmon report exited " + std::to_string(cli_code) + ": " + FirstLine(cli_out));
  }

  void Backup() {
    const std::string copy = setup_.scratch + "/backup.db";
    std::remove(copy.c_str());
    const auto [backup_code, backup_out] = testing::RunCommand(
        {"sqlite3", setup_.db, ".backup '" + copy + "'"}, setup_.scratch + "/backup.out");
    const auto [check_code, check_out] = backup_code == 0
        ? testing::RunCommand({"sqlite3", copy, "PRAGMA integrity_check"}, setup_.scratch + "/check.out")
        : std::pair<int, std::string>{backup_code, backup_out};
    Record(backups_, check_code == 0 && check_out == "ok\n",
           "sqlite3 backup or integrity_check: " + FirstLine(check_out));
    std::remove(copy.c_str());
  }

  void Record(Count& count, bool ok, const std::string& failure) {
    std::lock_guard lock(mu_);
    ++count.tried;
    if (ok) {
      ++count.ok;
      return;
    }
    ++failed_;
    if (first_failure_.empty()) first_failure_ = failure;
  }

  static std::string FirstLine(const std::string& text) {
    return text.substr(0, std::min(text.find('\n'), size_t{200}));
  }

  const Setup setup_;
  const int every_s_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  Count reloads_, reports_, cli_, backups_;
  std::atomic<int> rounds_{0}, failed_{0};
  std::string first_failure_;
  double peak_mb_ = 0;
  std::map<std::string, double> peaks_;  // what -> the largest high-water mark during it, MB
  std::thread thread_;
};

}  // namespace obsmon::bench
