// rules_bench: one rule-evaluation cycle of 1,000 rules over 10,000 series (aim: <= 15 ms CPU).
//
// Series: 100 metric names x 100 label sets (job j0..j9 x instance i0..i9), one sample every 15s
// for the last hour (240 points each, 2.4M points). Rules, in 10 groups of 100:
//   400 alerting  `m_k{job="jN"} > 97.5` with `for: 2m` (10 series each; ~2% fire)
//   300 recording `sum by (job) (rate(m_k[5m]))` (100 series x 21 points each)
//   300 alerting  `avg_over_time(m_k{instance="iN"}[5m]) < T` (10 series x 21 points each)
// Each cycle appends one new sample per series (15s later), then evaluates every group. Reports
// the wall and thread-CPU time of a cycle (median, p90, max over the cycles).
// Usage: rules_bench [--distinct] [cycles] | rules_bench [--distinct] --rules-yaml FILE
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "alerts/rule_file.h"
#include "alerts/rule_manager.h"
#include "alerts/series_store.h"

using namespace obsmon;
using namespace obsmon::alerts;

namespace {

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The generator gives each metric's rules of one kind the same expression (rules k, k+100, ...
// read m_k alike), so obsmon's shared subexpressions compute each once per cycle. `distinct`
// makes every expression differ at the same cost: thresholds 97.5, 97.51, ...; ranges 300s, 301s,
// 302s (the same 21 points at a 15 s step).
std::string RulesYaml(bool distinct) {
  std::string y = "groups:\n";
  int rule = 0;
  for (int g = 0; g < 10; ++g) {
    y += "  - name: g" + std::to_string(g) + "\n    interval: 15s\n    rules:\n";
    for (int i = 0; i < 100; ++i, ++rule) {
      const int metric = rule % 100;
      const std::string m = "m_" + std::to_string(metric);
      const int copy = rule / 100 % 4;  // which repeat of this metric's expression
      const std::string range = distinct ? std::to_string(300 + copy) + "s" : "5m";
      if (rule < 400) {
        const std::string threshold = distinct ? "97.5" + std::to_string(copy) : "97.5";
        y += "      - alert: High" + std::to_string(rule) + "\n        expr: " + m + "{job=\"j" +
             std::to_string(rule % 10) + "\"} > " + threshold +
             "\n        for: 2m\n        labels: {severity: warn}\n"
             "        annotations: {summary: '{{ $labels.instance }} at {{ $value }}'}\n";
      } else if (rule < 700) {
        y += "      - record: job:" + m + ":rate5m_" + std::to_string(rule) +
             "\n        expr: sum by (job) (rate(" + m + "[" + range + "]))\n";
      } else {
        y += "      - alert: Low" + std::to_string(rule) + "\n        expr: avg_over_time(" + m +
             "{instance=\"i" + std::to_string(rule % 10) + "\"}[" + range + "]) < 1\n";
      }
    }
  }
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  // `rules_bench --rules-yaml FILE` writes the rules and exits: bench/rules_vs_prometheus.sh
  // gives the same file to Prometheus.
  // `--distinct` (first): every rule's expression differs from the others' (RulesYaml).
  bool distinct = false;
  if (argc > 1 && std::string(argv[1]) == "--distinct") {
    distinct = true;
    --argc;
    ++argv;
  }
  if (argc > 2 && std::string(argv[1]) == "--rules-yaml") {
    std::FILE* out = std::fopen(argv[2], "w");
    if (out == nullptr) return 1;
    const std::string y = RulesYaml(distinct);
    const bool ok = std::fwrite(y.data(), 1, y.size(), out) == y.size();
    return std::fclose(out) == 0 && ok ? 0 : 1;
  }
  const int cycles = argc > 1 ? std::atoi(argv[1]) : 40;
  const int64_t step = 15'000;
  int64_t t = 1'760'400'000'000;
  SeriesStore store;
  std::vector<Labels> series;
  for (int m = 0; m < 100; ++m) {
    for (int j = 0; j < 10; ++j) {
      for (int i = 0; i < 10; ++i) {
        series.push_back(Labels{{"__name__", "m_" + std::to_string(m)},
                                {"job", "j" + std::to_string(j)},
                                {"instance", "i" + std::to_string(i)}});
      }
    }
  }
  // A per-series level 0..99 (fixed) plus a small jitter: 2% of the series stay above the
  // alert thresholds of 97.x, so a realistic ~1% of alert instances fire.
  auto value = [](size_t s, int64_t ts) {
    return static_cast<double>(s % 100) + static_cast<double>((ts / 15'000 + s) % 4) * 0.25;
  };
  for (int k = 240; k > 0; --k) {
    for (size_t s = 0; s < series.size(); ++s)
      store.AppendLabeled(series[s], t - k * step, value(s, t - k * step));
  }
  ConfigErrors errors;
  auto groups = ParseRuleFileText(RulesYaml(distinct), "bench.yml", &errors);
  if (!errors.empty()) {
    std::fprintf(stderr, "%s\n", errors.ToString().c_str());
    return 1;
  }
  RuleManagerOptions o;
  o.store = &store;
  RuleManager mgr(o, groups);
  std::vector<double> wall, cpu;
  for (int c = 0; c < cycles; ++c) {
    for (size_t s = 0; s < series.size(); ++s) store.AppendLabeled(series[s], t, value(s, t));
    const double c0 = ThreadCpuMs();
    const auto w0 = std::chrono::steady_clock::now();
    mgr.EvaluateAt(t);
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count());
    cpu.push_back(ThreadCpuMs() - c0);
    store.GarbageCollect(t);
    t += step;
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * (v.size() - 1))];
  };
  auto st = store.Stats();
  size_t firing = 0;
  for (const auto& a : mgr.ActiveAlerts()) firing += a.state == AlertState::kFiring;
  std::printf(
      "rules=1000%s series=%llu points=%llu cycles=%d active_alerts=%zu firing=%zu failures=%llu "
      "shared_hits=%llu\n",
      distinct ? " (distinct)" : "",
      static_cast<unsigned long long>(st.series), static_cast<unsigned long long>(st.points),
      cycles, mgr.ActiveAlerts().size(), firing,
      static_cast<unsigned long long>(mgr.evaluation_failures()),
      static_cast<unsigned long long>(mgr.shared_subexpression_hits()));
  // What the rules keep between cycles (promql::EvaluationMemory), beside the head's points.
  std::printf("evaluation_memory_bytes=%zu head_point_bytes=%llu head_index_bytes=%llu\n",
              mgr.evaluation_memory_bytes(), static_cast<unsigned long long>(st.point_bytes),
              static_cast<unsigned long long>(st.index_bytes));
  std::printf("cycle wall ms: median %.2f  p90 %.2f  max %.2f\n", pct(wall, 0.5), pct(wall, 0.9),
              pct(wall, 1.0));
  std::printf("cycle cpu  ms: median %.2f  p90 %.2f  max %.2f\n", pct(cpu, 0.5), pct(cpu, 0.9),
              pct(cpu, 1.0));
  return 0;
}
