// promtool is the oracle for alerting and recording rules too (issue 14): a seeded generator
// writes, per case, a random RULE file and a promtool unit-test file over it, and promtool and
// `obsmon test rules` (RunRuleTests) must print the same text for it, byte for byte.
//
// A case is one rule file (one group, sometimes two with group_eval_order) of recording rules
// (some read by later alerts, some by earlier ones, which then see the previous evaluation) and
// alerting rules with random `for`, `keep_firing_for`, literal and templated labels and
// annotations (the template subset docs/alerts.md lists: $labels, $value, $externalLabels,
// $externalURL, the .Labels spellings, humanize*, toUpper, toLower, title, string literals,
// trimming), over input series with gaps (`_`, `_xN`), `stale`, counter resets, NaN and +-Inf,
// `a+bxN` runs; expressions use offsets, comparisons with and without bool, on/ignoring,
// and/or/unless, aggregations, range functions, absent, scalar, clamp, number literals in every
// form (.5, 0x10, Inf, NaN), {__name__=~...} selectors, and now and then a group `limit`. The
// unit-test file has
// alert_rule_test items at several eval_times per alert (some between evaluation steps), each
// expecting a bogus alert so that both tools print every firing alert they got (labels and
// expanded annotations), and promql_expr_test items over the recorded series, ALERTS and
// ALERTS_FOR_STATE, each with a wrong expectation so that both print the values they got.
//
// Both tools run on all the files at once; the exit codes must be 1 for both and each file's
// block of output must be the same text. A disagreement prints the seed, the case, the two
// generated files and a diff. OBSMON_DIFF_SEED (shared with promql_differential_test) and
// OBSMON_DIFF_ALERT_CASES (default 300) choose the run; OBSMON_DIFF_ALERT_FIRST=<n> starts at
// case n (each case has its own generator seeded by (seed, case), so one case reruns alone with
// OBSMON_DIFF_ALERT_FIRST=n OBSMON_DIFF_ALERT_CASES=1); OBSMON_DIFF_ALERT_DUMP=<dir> keeps the
// generated files.
//
// Not generated, because promtool itself has no single answer: sums and averages over groups of
// three or more series (promtool adds them in Go map order, which changes from run to run; see
// docs/alerts.md), averages of two (the incremental mean is order-dependent too), min/max over
// arithmetic results (min(0, -0) keeps whichever came first), two groups that read each
// other's output without group_eval_order (promtool then evaluates them in map order), and
// fractional exponents (Go's assembly Exp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "alerts/rule_test_runner.h"
#include "tests/alerts/differential_support.h"
#include "tests/support/promtool.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::alerts {
namespace {

using differential::EnvOr;
using differential::kPromtool;

struct GeneratedCase {
  std::string rules;  // the rule file
  std::string test;   // the unit-test file (rule_files: [<name>])
  int alert_items = 0;
  int expr_items = 0;
};

class CaseGenerator {
 public:
  CaseGenerator(uint64_t seed, uint64_t index) {
    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                      static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32)};
    rng_.seed(seq);
  }

  GeneratedCase Generate(const std::string& rule_file_name) {
    GeneratedCase c;
    input_interval_s_ = Chance(0.75) ? 60 : 30;
    eval_interval_s_ = Pick<int>({60, 60, 60, 30, 120});
    steps_ = Int(10, 18);
    // Evaluation times go a little past the last input sample, where lookback, stale markers
    // and keep_firing_for end things.
    max_eval_s_ = (steps_ - 1) * input_interval_s_ + Pick<int>({0, 60, 180, 300});
    max_eval_s_ -= max_eval_s_ % eval_interval_s_;

    // Rules.
    const int groups = Chance(0.2) ? 2 : 1;
    const int records = Int(0, 3);
    const int alerts = Int(1, 4);
    for (int i = 1; i <= records; ++i) record_names_.push_back("rec_" + std::to_string(i));
    for (int i = 1; i <= alerts; ++i) alert_names_.push_back("Alert" + std::to_string(i));
    std::ostringstream r;
    r << "groups:\n";
    // With two groups, the first holds the recording rules and the second the alerts (which read
    // them): group_eval_order below makes promtool's order definite.
    for (int g = 0; g < groups; ++g) {
      r << "  - name: " << (g == 0 ? "first" : "second") << "\n";
      if (Chance(0.05)) r << "    limit: " << Int(1, 4) << "\n";
      r << "    rules:\n";
      std::vector<std::string> items;
      if (groups == 1 || g == 0) {
        for (const auto& name : record_names_) items.push_back(RecordingRule(name));
      }
      if (groups == 1 || g == 1) {
        for (const auto& name : alert_names_) items.push_back(AlertingRule(name));
      }
      if (groups == 1) std::shuffle(items.begin(), items.end(), rng_);
      for (const auto& it : items) r << it;
      if (items.empty()) r << "      []\n";
    }
    c.rules = r.str();

    // The unit test.
    std::ostringstream t;
    t << "rule_files:\n  - " << rule_file_name << "\n";
    t << "evaluation_interval: " << Dur(eval_interval_s_) << "\n";
    if (groups == 2) t << "group_eval_order: [first, second]\n";
    t << "tests:\n  - interval: " << Dur(input_interval_s_) << "\n";
    if (Chance(0.3)) t << "    name: case\n";
    if (Chance(0.6)) t << "    external_labels:\n      site: lab\n";
    if (Chance(0.4)) t << "    external_url: http://obsmon.example:9950\n";
    t << "    input_series:\n";
    for (const char* m : {"x", "y"}) {
      for (const auto& [job, inst, port] : kTargets) {
        t << "      - series: '" << m << "{job=\"" << job << "\", instance=\"" << inst
          << "\", port=\"" << port << "\"}'\n        values: '" << GaugeValues() << "'\n";
      }
    }
    for (const char* inst : {"a:80", "c"}) {
      t << "      - series: 'c_total{job=\"" << (inst[0] == 'a' ? "j1" : "j2") << "\", instance=\""
        << inst << "\"}'\n        values: '" << CounterValues() << "'\n";
      t << "      - series: 'f{instance=\"" << inst << "\"}'\n        values: '" << FlagValues()
        << "'\n";
    }
    t << "    alert_rule_test:\n";
    for (const auto& name : alert_names_) {
      for (int64_t at : EvalTimes(Int(2, 5))) {
        t << "      - eval_time: " << Dur(at) << "\n        alertname: " << name << "\n";
        // Deliberately wrong: both tools print the alerts they got.
        if (Chance(0.5)) {
          t << "        exp_alerts:\n          - exp_labels: {bogus: \"1\"}\n";
        } else {
          t << "        exp_alerts:\n          - exp_labels: {severity: page, instance: \"a:80\"}\n"
               "            exp_annotations: {never: matches}\n";
        }
        ++c.alert_items;
      }
    }
    std::vector<std::string> exprs = record_names_;
    exprs.push_back("ALERTS");
    if (Chance(0.5)) exprs.push_back("ALERTS_FOR_STATE");
    t << "    promql_expr_test:\n";
    for (const auto& e : exprs) {
      for (int64_t at : EvalTimes(Int(1, 3))) {
        t << "      - expr: '" << e << "'\n        eval_time: " << Dur(at)
          << "\n        exp_samples: [{labels: '{never=\"matches\"}', value: 424242}]\n";
        ++c.expr_items;
      }
    }
    c.test = t.str();
    return c;
  }

 private:
  struct Target {
    const char* job;
    const char* instance;
    const char* port;
  };
  static constexpr Target kTargets[] = {{"j1", "a:80", "80"}, {"j1", "node_b1", "9100"},
                                        {"j2", "c", "0.5"}};

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  T Pick(const std::vector<T>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng_)];
  }
  std::string P(const std::vector<std::string>& from) { return Pick(from); }

  static std::string Dur(int64_t s) {
    if (s == 0) return "0s";
    std::string out;
    if (s >= 60) out += std::to_string(s / 60) + "m";
    if (s % 60) out += std::to_string(s % 60) + "s";
    return out;
  }

  // Distinct evaluation times in [0, max_eval], mostly on evaluation steps, some between.
  std::vector<int64_t> EvalTimes(int n) {
    std::vector<int64_t> out;
    for (int i = 0; i < n; ++i) {
      int64_t t = Int(0, max_eval_s_ / eval_interval_s_) * eval_interval_s_;
      if (Chance(0.15) && t + 15 <= max_eval_s_) t += Pick<int>({15, 30, 45}) % eval_interval_s_;
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    return out;
  }

  std::string GaugeValues() {
    static const std::vector<std::string> values = {
        "0.1", "0.2", "0.25", "0.3", "0.7", "1", "3", "1e3", "-0.4", "0", "2.5", "1e-3", "0.15",
        "7", "0.5", "0.9", "1.5", "90061", "1e6", "-2", "1.234e-05"};
    std::ostringstream s;
    int n = 0;
    while (n < steps_) {
      if (n) s << ' ';
      const int r = Int(0, 99);
      if (r < 6) {
        s << "_";
      } else if (r < 10) {
        s << "stale";
      } else if (r < 13) {
        s << "NaN";
      } else if (r < 15) {
        s << "Inf";
      } else if (r < 16) {
        s << "-Inf";
      } else if (r < 19 && n + 3 < steps_) {
        const int k = Int(1, 3);
        s << "_x" << k;
        n += k;
        continue;
      } else if (r < 24 && n + 4 < steps_) {
        const int k = Int(1, 3);
        s << P({"0.1", "1", "3", "0.3", "-1"}) << P({"+", "-"}) << P({"0.1", "0.2", "1", "0.7"})
          << "x" << k;
        n += k + 1;
        continue;
      } else if (r < 28 && n + 4 < steps_) {
        const int k = Int(1, 3);
        s << P(values) << "x" << k;
        n += k + 1;
        continue;
      } else {
        s << P(values);
      }
      ++n;
    }
    return s.str();
  }

  std::string CounterValues() {
    std::ostringstream s;
    int tenths = Int(0, 20);
    for (int n = 0; n < steps_; ++n) {
      if (n) s << ' ';
      const int r = Int(0, 99);
      if (r < 6) {
        s << "_";
        continue;
      }
      if (r < 9) {
        s << "stale";
        continue;
      }
      if (r < 17) {
        tenths = Int(0, 5);  // a reset
      } else {
        tenths += Pick<int>({0, 1, 3, 7, 10, 25, 4});
      }
      s << tenths / 10;
      if (tenths % 10) s << '.' << tenths % 10;
    }
    return s.str();
  }

  std::string FlagValues() {
    std::ostringstream s;
    int v = Int(0, 1);
    for (int n = 0; n < steps_; ++n) {
      if (n) s << ' ';
      const int r = Int(0, 99);
      if (r < 5) {
        s << "_";
        continue;
      }
      if (r < 8) {
        s << "stale";
        continue;
      }
      if (r < 30) v = 1 - v;
      s << v;
    }
    return s.str();
  }

  std::string Offset() {
    return Chance(0.8) ? "" : " offset " + P({"30s", "1m", "2m", "5m"});
  }
  std::string Range() { return P({"1m", "2m", "3m", "5m", "10m"}); }
  std::string Scalar() {
    return P({"0", "0.1", "0.3", "0.5", "1", "2", "3", "1e3", "-1", "0.25", "10", "1.5", ".5",
              "0x10", "1.5e-3", "Inf", "NaN"});
  }
  // A selector of a gauge, with labels job, instance, port.
  // `names`: sometimes both metrics of instance c. Not as an operand of vector matching: the
  // many-to-many error then lists the two series in the order promtool created them, which is
  // Go map order (seen: [y, x] 7 times, [x, y] once, on one file).
  std::string Gauge(bool offset = true, bool names = true) {
    if (names && Chance(0.03)) {
      return std::string("{__name__=~\"x|y\", instance=\"c\"}") + (offset ? Offset() : "");
    }
    std::string s = P({"x", "y"}) + P({"", "", "", "{job=\"j1\"}", "{instance=~\"a.*|c\"}",
                                         "{instance!=\"c\"}", "{port=~\"[0-9]+\"}"});
    return offset ? s + Offset() : s;
  }
  std::string OverTime(bool names = true) {
    return P({"avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
              "count_over_time"}) +
           "(" + Gauge(false, names) + "[" + Range() + "]" + Offset() + ")";
  }
  std::string Rate() {
    return P({"rate", "increase", "delta", "irate"}) + "(c_total[" + Range() + "]" + Offset() +
           ")";
  }
  // Sums and averages only where promtool's order cannot change a bit (see the top).
  std::string Aggregation() {
    switch (Int(0, 3)) {
      case 0:
        return P({"min", "max", "count"}) + P({"", " by (job)", " without (instance, port)",
                                               " by (instance)"}) +
               " (" + P({Gauge(), OverTime(), Rate()}) + ")";
      case 1:
        return P({"sum by (job)", "sum without (instance, port)", "sum by (instance)"}) + " (" +
               P({Gauge(), OverTime()}) + ")";
      case 2:
        return "avg by (instance) (" + P({Gauge(true, false), OverTime(false)}) + ")";
      default:
        return "sum by (job) (" + Rate() + ")";
    }
  }
  std::string Exponent() { return P({"2", "3", "-1", "0.5", "-0.5", "0", "10"}); }

  // A vector expression; `depth` bounds nesting.
  std::string Vector(int depth) {
    const int choice = Int(0, depth > 0 ? 15 : 5);
    switch (choice) {
      case 0:
        return Gauge();
      case 1:
        return OverTime();
      case 2:
        return Rate();
      case 3:
        return Aggregation();
      case 4:
        if (!record_names_.empty()) return P(record_names_);
        return Gauge();
      case 5:
        return "f" + Offset();
      case 6: {
        const std::string op = P({"+", "-", "*", "/", "%", "^"});
        const std::string rhs = op == "^" ? Exponent() : Scalar();
        if (op != "^" && Chance(0.3)) return Scalar() + " " + op + " " + Vector(depth - 1);
        return "(" + Vector(depth - 1) + ") " + op + " " + rhs;
      }
      case 7:
        return "(" + Vector(depth - 1) + ") " + P({">", "<", ">=", "<=", "==", "!="}) + " bool " +
               Scalar();
      case 8:
        return P({Gauge(true, false), OverTime(false), Rate()}) + " " +
               P({"+", "-", "*", "/", ">", "<", "!="}) +
               P({"", " on (job, instance)", " ignoring (port)", " on (instance)",
                  " ignoring (job, port)"}) +
               " " + Gauge(true, false);
      case 9:
        return "(" + Vector(depth - 1) + ") " + P({"and", "or", "unless"}) +
               P({"", " on (instance)", " ignoring (job, port)"}) + " (" + Vector(depth - 1) + ")";
      case 10:
        return P({"abs", "clamp_min", "clamp_max"}) == "abs"
                   ? "abs(" + Vector(depth - 1) + ")"
                   : P({"clamp_min", "clamp_max"}) + "(" + Vector(depth - 1) + ", " + Scalar() + ")";
      case 11:
        return P({"absent(x{job=\"nope\"})", "absent(f{instance=\"a:80\"})",
                  "absent_over_time(y{instance=\"zzz\"}[5m])",
                  "absent_over_time(f{instance=\"c\"}[2m])", "vector(1)", "vector(time())"});
      case 12:
        return Gauge() + " " + P({">", "<", "-"}) + " scalar(" +
               P({"y{instance=\"c\"}", "f{instance=\"a:80\"}", "sum(f)"}) + ")";
      case 13:
        if (Chance(0.5)) return "count by (alertname, alertstate) (ALERTS)";
        return "time() - ALERTS_FOR_STATE";
      case 14:
        return Gauge(true, false) + " - " + Gauge(false, false) + " offset " + P({"1m", "2m"});
      default:
        return "(" + Vector(depth - 1) + ") " + P({">", "<", ">=", "<=", "==", "!="}) + " " +
               Scalar();
    }
  }

  std::string RecordingRule(const std::string& name) {
    std::ostringstream r;
    r << "      - record: " << name << "\n        expr: " << Quote(Vector(2)) << "\n";
    if (Chance(0.3)) r << "        labels:\n          source: " << P({"rec", "obsmon"}) << "\n";
    return r.str();
  }

  std::string AlertExpr() {
    switch (Int(0, 6)) {
      case 0:
        return Vector(1);  // every series alerts, NaN values too
      case 1:
        return "(" + Vector(1) + ") > bool " + Scalar();
      case 2:
        return "f == 1";
      case 3:
        return "f == 1 and on (instance) (" + Vector(1) + ")";
      case 4:
        if (!record_names_.empty()) {
          return P(record_names_) + " " + P({">", "<", ">=", "!="}) + " " + Scalar();
        }
        [[fallthrough]];
      default:
        return "(" + Vector(2) + ") " + P({">", "<", ">=", "<=", "==", "!="}) + " " + Scalar();
    }
  }

  std::string AlertingRule(const std::string& name) {
    std::ostringstream r;
    r << "      - alert: " << name << "\n        expr: " << Quote(AlertExpr()) << "\n";
    if (Chance(0.7)) r << "        for: " << P({"0s", "30s", "1m", "1m", "2m", "3m", "5m"}) << "\n";
    if (Chance(0.4)) r << "        keep_firing_for: " << P({"30s", "1m", "2m", "5m"}) << "\n";
    if (Chance(0.8)) {
      r << "        labels:\n";
      if (Chance(0.8)) r << "          severity: " << P({"page", "warn"}) << "\n";
      if (Chance(0.4)) {
        r << "          " << P({"who", "where"}) << ": "
          << Quote(P({"{{ $labels.instance }}", "{{ $labels.instance | toUpper }}",
                      "{{ $labels.missing }}", "{{ $externalLabels.site }}",
                      "{{ .Labels.job | title }}", "{{ $labels.job }}-{{ $labels.port }}",
                      "{{ $value }}", "{{ \"fixed\" | toUpper }}"}))
          << "\n";
      }
    }
    if (Chance(0.8)) {
      r << "        annotations:\n";
      static const std::vector<std::string> templates = {
          "{{ $value }}",
          "value {{ $value }} on {{ $labels.instance }}",
          "{{ $value | humanize }}",
          "{{ humanize1024 $value }}",
          "{{ $value | humanizePercentage }}",
          "{{ humanizeDuration $value }}",
          "{{ .Value | humanize }} {{ .Labels.instance }}",
          "{{ $labels.instance | title }} {{ $labels.job | toUpper }}",
          "{{ $labels.__name__ }}",
          "{{ $labels.missing }}",
          "{{ $externalLabels.site }} {{ $externalURL }}",
          "{{ .ExternalLabels.site | toUpper }} {{ .ExternalURL }}",
          "{{ $labels.port | humanize }} {{ humanize1024 $labels.port }}",
          "{{ $labels.port | humanizeDuration }}",
          "{{ $labels.alertname }}",
          "a {{- $labels.instance -}} b",
          "{{ \"Literal\" | toLower }} {{ $value | humanize | toUpper }}",
          "{{ $value | toUpper }}",
          "{{ title $value }}",
          "",
          "no template",
      };
      const int n = Int(1, 3);
      for (int i = 0; i < n; ++i) {
        r << "          " << P({"summary", "description", "value", "runbook"}) << std::to_string(i)
          << ": " << Quote(P(templates)) << "\n";
      }
    }
    return r.str();
  }

  // A YAML single-quoted scalar.
  static std::string Quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
      out += c;
      if (c == '\'') out += '\'';
    }
    return out + "'";
  }

  std::mt19937_64 rng_;
  int input_interval_s_ = 60, eval_interval_s_ = 60, steps_ = 12;
  int64_t max_eval_s_ = 600;
  std::vector<std::string> record_names_, alert_names_;
};

struct ToolRun {
  int exit_code = -1;
  std::map<std::string, std::string> blocks;  // per file: its "Unit Testing:" block
};

// Splits the output of a run over several files into each file's block.
std::map<std::string, std::string> SplitByFile(const std::string& out) {
  std::map<std::string, std::string> blocks;
  const std::string head = "Unit Testing:  ";
  size_t at = out.find(head);
  while (at != std::string::npos) {
    const size_t eol = out.find('\n', at);
    const std::string file = out.substr(at + head.size(), eol - at - head.size());
    size_t next = out.find("\n" + head, eol);
    blocks[file] = out.substr(at, next == std::string::npos ? std::string::npos : next + 1 - at);
    at = next == std::string::npos ? next : next + 1;
  }
  return blocks;
}

ToolRun RunPromtool(const std::vector<std::string>& files) {
  auto promtool = ::obsmon::testing::RunPromtoolTestRules(files);
  ToolRun run;
  run.exit_code = promtool.exit_code;
  run.blocks = SplitByFile(promtool.output);
  return run;
}

std::string Diff(const std::string& dir, const std::string& a, const std::string& b) {
  std::ofstream(dir + "/promtool.out") << a;
  std::ofstream(dir + "/obsmon.out") << b;
  const std::string out =
      ::obsmon::testing::RunCommand({"diff", "-u", dir + "/promtool.out", dir + "/obsmon.out"},
                                    dir + "/diff.out")
          .second;
  return out.size() > 6000 ? out.substr(0, 6000) + "\n[...]" : out;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(AlertDifferentialTest, EveryAlertAndRecordedValueAsPromtoolPrintsIt) {
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  const uint64_t seed = EnvOr("OBSMON_DIFF_SEED", 20261130);
  const uint64_t first = EnvOr("OBSMON_DIFF_ALERT_FIRST", 0);
  const uint64_t cases = EnvOr("OBSMON_DIFF_ALERT_CASES", 300);
  testing::ScratchDir dir;
  const char* dump = std::getenv("OBSMON_DIFF_ALERT_DUMP");
  if (dump && *dump) std::filesystem::create_directories(dump);
  std::vector<std::string> files;
  std::map<std::string, uint64_t> case_of;
  std::map<uint64_t, GeneratedCase> generated;
  int alert_items = 0, expr_items = 0;
  for (uint64_t i = first; i < first + cases; ++i) {
    const std::string name = "case" + std::to_string(i);
    CaseGenerator gen(seed, i);
    GeneratedCase c = gen.Generate(name + "_rules.yml");
    std::ofstream(dir.File(name + "_rules.yml")) << c.rules;
    std::ofstream(dir.File(name + "_test.yml")) << c.test;
    if (dump && *dump) {
      std::ofstream(std::string(dump) + "/" + name + "_rules.yml") << c.rules;
      std::ofstream(std::string(dump) + "/" + name + "_test.yml") << c.test;
    }
    files.push_back(dir.File(name + "_test.yml"));
    case_of[files.back()] = i;
    alert_items += c.alert_items;
    expr_items += c.expr_items;
    generated[i] = std::move(c);
  }

  // Batches keep promtool's command line short.
  ToolRun theirs;
  theirs.exit_code = 0;
  constexpr size_t kBatch = 200;
  for (size_t at = 0; at < files.size(); at += kBatch) {
    std::vector<std::string> batch(files.begin() + at,
                                   files.begin() + std::min(files.size(), at + kBatch));
    ToolRun r = RunPromtool(batch);
    theirs.exit_code = std::max(theirs.exit_code, r.exit_code);
    theirs.blocks.merge(r.blocks);
  }
  std::ostringstream ours_out;
  const int ours_exit = RunRuleTests(files, ours_out);
  const std::map<std::string, std::string> ours = SplitByFile(ours_out.str());

  // Every file expects a bogus alert: both must fail it.
  EXPECT_EQ(theirs.exit_code, 1);
  EXPECT_EQ(ours_exit, 1);
  ASSERT_EQ(theirs.blocks.size(), files.size());
  ASSERT_EQ(ours.size(), files.size());

  int disagreements = 0;
  size_t alerts_got = 0;
  size_t alert_failures = 0, expr_failures = 0, rule_errors = 0;
  for (const auto& f : files) {
    const std::string& p = theirs.blocks[f];
    const std::string& o = ours.at(f);
    alert_failures += Count(p, "    alertname: ");
    expr_failures += Count(p, "    expr: ");
    rule_errors += Count(p, "    rule: ");
    if (p == o) continue;
    ++disagreements;
    const uint64_t i = case_of[f];
    ADD_FAILURE() << "seed " << seed << ", case " << i << " (rerun: OBSMON_DIFF_SEED=" << seed
                  << " OBSMON_DIFF_ALERT_FIRST=" << i << " OBSMON_DIFF_ALERT_CASES=1)\n"
                  << "--- rules:\n"
                  << generated[i].rules << "--- test:\n"
                  << generated[i].test << "--- diff (- promtool, + obsmon):\n"
                  << Diff(dir.path(), p, o);
  }
  // Firing alerts printed under "got:" (each is one "Labels:" line after got:[).
  for (const auto& [f, p] : theirs.blocks) {
    for (size_t at = p.find("got:["); at != std::string::npos; at = p.find("got:[", at + 1)) {
      const size_t end = p.find("\n            ]", at);
      const std::string list = p.substr(at, end == std::string::npos ? 0 : end - at);
      alerts_got += Count(list, "  Labels:");
    }
  }
  std::printf(
      "alert differential: seed %llu, cases %llu-%llu: %d alert_rule_test items (%zu compared, "
      "%zu firing alerts printed), %d promql_expr_test items (%zu compared), %zu rule evaluation "
      "errors; %d disagreements\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(first + cases - 1), alert_items, alert_failures,
      alerts_got, expr_items, expr_failures, rule_errors, disagreements);
  ::testing::Test::RecordProperty("alert_items_compared", static_cast<int>(alert_failures));
  ::testing::Test::RecordProperty("firing_alerts_compared", static_cast<int>(alerts_got));
  EXPECT_EQ(disagreements, 0) << "of " << cases << " cases (seed " << seed << ")";
  // Most items must be compared, not cut short by rule evaluation errors.
  EXPECT_GT(alert_failures, static_cast<size_t>(alert_items) / 2);
}

}  // namespace
}  // namespace obsmon::alerts
