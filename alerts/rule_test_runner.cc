#include "alerts/rule_test_runner.h"

#include <glob.h>
#include <strings.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "alerts/promql_engine.h"
#include "alerts/promql_parser.h"
#include "alerts/rule_file.h"
#include "alerts/rule_manager.h"
#include "alerts/series_store.h"
#include "alerts/template.h"
#include "core/config_node.h"
#include "core/duration.h"

namespace obsmon::alerts {

namespace {

// Go's labels.Labels.String(): {a="1", b="2"}.
std::string GoLabels(const Labels& l) {
  std::string out = "{";
  bool first = true;
  for (const auto& [n, v] : l.pairs()) {
    if (!first) out += ", ";
    first = false;
    out += n + "=" + GoQuote(v);  // strconv.Quote, as Go's labels.String()
  }
  return out + "}";
}

// A number as the promtool series notation writes it: decimal digits with optional fraction
// and exponent, or Inf/NaN, with an optional sign. Advances *pos.
bool ReadNumber(const std::string& s, size_t* pos, double* out) {
  size_t p = *pos;
  size_t start = p;
  if (p < s.size() && (s[p] == '+' || s[p] == '-')) ++p;
  auto word = [&](const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s.size() - p >= n && strncasecmp(s.c_str() + p, w, n) == 0) {
      p += n;
      return true;
    }
    return false;
  };
  if (word("Inf")) {
    *out = (s[start] == '-') ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity();
    *pos = p;
    return true;
  }
  if (word("NaN")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    *pos = p;
    return true;
  }
  size_t digits = 0;
  while (p < s.size() && (std::isdigit(static_cast<unsigned char>(s[p])) || s[p] == '.'))
    ++p, ++digits;
  if (digits == 0) return false;
  if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
    size_t q = p + 1;
    if (q < s.size() && (s[q] == '+' || s[q] == '-')) ++q;
    if (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) {
      while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) ++q;
      p = q;
    }
  }
  std::string num = s.substr(start, p - start);
  char* end = nullptr;
  *out = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return false;
  *pos = p;
  return true;
}

bool ReadTimes(const std::string& s, size_t* pos, uint64_t* n) {
  size_t p = *pos;
  if (p >= s.size() || s[p] != 'x') return false;
  ++p;
  size_t start = p;
  while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
  if (p == start || p - start > 9) return false;
  *n = std::stoull(s.substr(start, p - start));
  *pos = p;
  return true;
}

// Go's time.Duration.String() of a non-negative number of milliseconds: "0s", "500ms", "1.5s",
// "4m0s", "1h0m30s".
std::string GoDuration(int64_t ms) {
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string secs = std::to_string((ms / 1000) % 60);
  if (ms % 1000) {
    std::string frac = std::to_string(1000 + ms % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    secs += "." + frac;
  }
  secs += "s";
  const int64_t minutes = ms / 60'000, hours = ms / 3'600'000;
  if (hours) return std::to_string(hours) + "h" + std::to_string(minutes % 60) + "m" + secs;
  if (minutes) return std::to_string(minutes) + "m" + secs;
  return secs;
}

struct InputSeries {
  Labels labels;  // with __name__
  std::vector<std::optional<double>> values;
};

struct Failure {
  std::string text;
};

// Compares exact float values as reflect.DeepEqual does (NaN never equals).
bool SameValue(double a, double b) { return a == b; }

class FileRunner {
 public:
  FileRunner(std::string file, std::ostream& out) : file_(std::move(file)), out_(out) {}

  bool Run() {
    out_ << "Unit Testing:  " << file_ << "\n";
    std::vector<std::string> errs = RunFile();
    if (errs.empty()) {
      out_ << "  SUCCESS\n\n";
      return true;
    }
    out_ << "  FAILED:\n";
    for (const auto& e : errs) out_ << e << "\n\n";
    out_ << "\n";
    return false;
  }

 private:
  std::vector<std::string> RunFile() {
    ConfigErrors cerrs;
    auto root = LoadYamlFile(file_, &cerrs);
    if (!root) return {cerrs.ToString()};
    ConfigNode top(*root, file_, &cerrs);
    auto rule_files = top.StringList("rule_files");
    auto eval_interval = top.DurationMs("evaluation_interval");
    auto order = top.StringList("group_eval_order");
    auto tests = top.MapList("tests");
    top.CheckUnknownKeys();
    if (!cerrs.empty()) return {cerrs.ToString()};
    // 0 is promtool's default of 1m too (unittest.go: a zero interval is replaced).
    const int64_t interval = eval_interval.value_or(0) == 0 ? 60'000 : *eval_interval;
    if (interval < 0) return {"evaluation_interval must be positive"};

    // Rule files are relative to the test file.
    std::filesystem::path base = std::filesystem::path(file_).parent_path();
    std::vector<std::string> paths;
    for (const auto& rf : rule_files.value_or(std::vector<std::string>{})) {
      std::filesystem::path p(rf);
      if (p.is_relative()) p = base / p;
      paths.push_back(p.string());
    }
    ConfigErrors rerrs;
    auto groups = LoadRuleFiles(paths, &rerrs);
    if (!groups.ok()) return {rerrs.ToString()};
    if (order) {
      std::vector<RuleGroupSpec> sorted;
      for (const auto& name : *order) {
        auto it = std::find_if(groups->begin(), groups->end(),
                               [&](const auto& g) { return g.name == name; });
        if (it == groups->end()) return {"group name '" + name + "' in group_eval_order not found"};
        sorted.push_back(*it);
      }
      for (const auto& g : *groups) {
        if (std::find(order->begin(), order->end(), g.name) == order->end()) sorted.push_back(g);
      }
      *groups = std::move(sorted);
    }
    std::vector<std::string> errs;
    for (auto& t : tests.value_or(std::vector<ConfigNode>{})) {
      auto e = RunTestGroup(t, *groups, interval);
      errs.insert(errs.end(), e.begin(), e.end());
    }
    return errs;
  }

  // One input point of a test group: series `labels` has value `v` at `t` ms from 0.
  struct InputPoint {
    Labels labels;
    int64_t t;
    double v;
  };
  struct AlertTest {
    int64_t eval_time;
    std::string alertname;
    std::vector<std::pair<Labels, Labels>> exp;  // labels and annotations
  };
  struct ExprTest {
    std::string expr;
    int64_t eval_time;
    std::vector<std::pair<std::string, double>> exp;  // series description and value
  };

  // One item under `tests:`: reads it whole (its config errors first), bounds its work, then
  // evaluates the rules over its input as promtool does and compares.
  std::vector<std::string> RunTestGroup(ConfigNode& t, const std::vector<RuleGroupSpec>& groups,
                                        int64_t eval_interval) {
    ConfigErrors cerrs;
    ConfigNode tg(t.raw(), file_, &cerrs);
    auto name = tg.String("name");
    const int64_t interval = tg.DurationMs("interval").value_or(60'000);
    auto ext_labels = tg.StringMap("external_labels");
    auto ext_url = tg.String("external_url");
    auto inputs = tg.MapList("input_series").value_or(std::vector<ConfigNode>{});
    auto alert_tests = tg.MapList("alert_rule_test").value_or(std::vector<ConfigNode>{});
    auto expr_tests = tg.MapList("promql_expr_test").value_or(std::vector<ConfigNode>{});
    tg.CheckUnknownKeys();
    if (!cerrs.empty()) return {cerrs.ToString()};
    const std::string test_name = name ? "    name: " + *name + ",\n" : "";

    std::vector<InputPoint> input;
    if (auto err = ParseInputSeries(inputs, interval, &input)) return {*err};
    if (!cerrs.empty()) return {cerrs.ToString()};
    int64_t max_eval = 0;
    std::vector<AlertTest> ats;
    if (auto err = ParseAlertTests(alert_tests, &ats, &max_eval)) return {*err};
    std::vector<ExprTest> ets = ParseExprTests(expr_tests, &max_eval);
    if (!cerrs.empty()) return {cerrs.ToString()};
    if (auto err = ChargeEvaluations(groups, max_eval, eval_interval, test_name)) return {*err};

    SeriesStoreOptions so;
    so.retention_ms = std::numeric_limits<int64_t>::max() / 4;  // a test keeps everything
    SeriesStore store(so);
    // promtool loads the input samples as its evaluation loop reaches them (0, interval, ...,
    // up to max_eval), each step's before the rules run at it, so none after the loop's last
    // step is ever loaded: a promql_expr_test whose eval_time falls between two steps sees the
    // samples up to the step before it. Loaded all at once, a rule writing an input's series
    // at an earlier step found the input's later points there and was dropped as out of
    // order, where promtool reports the duplicate sample (fresh eyes, stop 57).
    std::stable_sort(input.begin(), input.end(),
                     [](const InputPoint& a, const InputPoint& b) { return a.t < b.t; });
    size_t loaded = 0;
    auto load_till = [&](int64_t ts) {
      for (; loaded < input.size() && input[loaded].t <= ts; ++loaded) {
        store.AppendLabeled(input[loaded].labels, input[loaded].t, input[loaded].v);
      }
    };

    RuleManagerOptions ro;
    ro.store = &store;
    ro.evaluation_interval_ms = eval_interval;
    if (ext_labels) {
      for (const auto& [k, v] : *ext_labels) ro.external_labels.Set(k, v);
    }
    // promtool's $externalURL is "" unless the test group sets external_url.
    ro.external_url = ext_url.value_or("");
    std::vector<RuleGroupSpec> gs = groups;
    for (auto& g : gs) g.interval_ms = eval_interval;  // promtool evaluates all groups at one interval
    RuleManager mgr(ro, gs);

    std::vector<std::string> errs;
    if (!RunAlertTests(mgr, ats, max_eval, eval_interval, load_till, test_name, &errs)) {
      return errs;
    }
    for (const auto& et : ets) CheckExprTest(et, store, &errs);
    return errs;
  }

  // `input_series`: each series expanded to its points (the first error, if any, is returned).
  static std::optional<std::string> ParseInputSeries(std::vector<ConfigNode>& inputs,
                                                     int64_t interval,
                                                     std::vector<InputPoint>* input) {
    for (auto& in : inputs) {
      auto series = in.String("series", true);
      auto values = in.String("values");
      in.CheckUnknownKeys();
      if (!series) continue;
      std::string metric;
      std::vector<std::pair<std::string, std::string>> lbs;
      promql::ParseError perr;
      if (!promql::ParseSeriesDescription(*series, &metric, &lbs, &perr)) {
        return "    series " + *series + ": " + perr.message;
      }
      Labels l(lbs);
      l.Set("__name__", metric);
      auto expanded = ExpandSeriesValues(values.value_or(""));
      if (!expanded.ok()) return "    series " + *series + ": " + expanded.status().message();
      const std::vector<std::optional<double>>& vals = *expanded;
      // A series given twice is the last definition, as in promtool (which keys its input by
      // labels): the earlier one's points go.
      std::erase_if(*input, [&](const InputPoint& p) { return p.labels == l; });
      for (size_t i = 0; i < vals.size(); ++i) {
        if (vals[i]) input->push_back({l, static_cast<int64_t>(i) * interval, *vals[i]});
      }
    }
    return std::nullopt;
  }

  // `alert_rule_test`: raises *max_eval to the latest eval_time.
  static std::optional<std::string> ParseAlertTests(std::vector<ConfigNode>& alert_tests,
                                                    std::vector<AlertTest>* ats,
                                                    int64_t* max_eval) {
    for (auto& a : alert_tests) {
      AlertTest at;
      at.eval_time = a.DurationMs("eval_time").value_or(0);
      at.alertname = a.String("alertname").value_or("");
      auto exps = a.MapList("exp_alerts");
      a.CheckUnknownKeys();
      if (at.alertname.empty()) {
        return "an item under alert_rule_test misses required attribute alertname at eval_time " +
               FormatDurationMs(at.eval_time);
      }
      for (auto& e : exps.value_or(std::vector<ConfigNode>{})) {
        auto el = e.StringMap("exp_labels").value_or(std::map<std::string, std::string>{});
        auto ea = e.StringMap("exp_annotations").value_or(std::map<std::string, std::string>{});
        e.CheckUnknownKeys();
        Labels l, an;
        for (const auto& [k, v] : el) l.Set(k, v);
        for (const auto& [k, v] : ea) an.SetAllowingEmpty(k, v);
        l.Set("alertname", at.alertname);
        at.exp.emplace_back(std::move(l), std::move(an));
      }
      *max_eval = std::max(*max_eval, at.eval_time);
      ats->push_back(std::move(at));
    }
    return std::nullopt;
  }

  // `promql_expr_test`: raises *max_eval to the latest eval_time; errors go to the nodes' errors.
  static std::vector<ExprTest> ParseExprTests(std::vector<ConfigNode>& expr_tests,
                                              int64_t* max_eval) {
    std::vector<ExprTest> ets;
    for (auto& e : expr_tests) {
      ExprTest et;
      et.expr = e.String("expr", true).value_or("");
      et.eval_time = e.DurationMs("eval_time").value_or(0);
      for (auto& s : e.MapList("exp_samples").value_or(std::vector<ConfigNode>{})) {
        et.exp.emplace_back(s.String("labels").value_or(""), ExpectedValue(s).value_or(0));
        s.CheckUnknownKeys();
      }
      e.CheckUnknownKeys();
      *max_eval = std::max(*max_eval, et.eval_time);
      ets.push_back(std::move(et));
    }
    return ets;
  }

  // An `exp_samples` item's `value`. promtool decodes it into a float64: YAML's own infinities
  // and NaN (.inf, -.inf, .nan in their three spellings) are floats to it (ConfigNode::Number
  // refuses them; found by template_edges_test.yml), while a quoted "1.0" or a plain `NaN` or
  // `+Inf` is a string, refused in promtool's words.
  static std::optional<double> ExpectedValue(ConfigNode& s) {
    const YAML::Node v = s.raw()["value"];
    if (!v || !v.IsScalar()) {
      return s.Number("value");  // absent (0, as in promtool) or not a scalar (an error)
    }
    static const std::map<std::string, double> kYamlSpecial = {
        {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},   {".INF", HUGE_VAL},
        {"+.inf", HUGE_VAL},  {"+.Inf", HUGE_VAL},  {"+.INF", HUGE_VAL},
        {"-.inf", -HUGE_VAL}, {"-.Inf", -HUGE_VAL}, {"-.INF", -HUGE_VAL},
        {".nan", NAN},        {".NaN", NAN},        {".NAN", NAN}};
    std::optional<double> value;
    double d = 0;
    if (v.Tag() == "!") {
      // quoted: a string
    } else if (auto it = kYamlSpecial.find(v.Scalar()); it != kYamlSpecial.end()) {
      value = it->second;
    } else if (YAML::convert<double>::decode(v, d) && std::isfinite(d)) {
      value = d;
    }
    if (!value) s.ErrorAt("value", "cannot unmarshal !!str `" + v.Scalar() + "` into float64");
    (void)s.String("value");  // a known key
    return value;
  }

  // The loop of RunAlertTests evaluates every rule at 0, interval, ... max_eval: bound that work
  // for the whole file first (an error when this group would go over).
  std::optional<std::string> ChargeEvaluations(const std::vector<RuleGroupSpec>& groups,
                                               int64_t max_eval, int64_t eval_interval,
                                               const std::string& test_name) {
    int64_t rules = 0;
    for (const auto& g : groups) rules += static_cast<int64_t>(g.rules.size());
    rules = std::max<int64_t>(rules, 1);
    const int64_t steps = max_eval / eval_interval + 1;
    if (steps > evaluations_left_ / rules) {  // steps * rules > evaluations_left_, no overflow
      return test_name + "    eval_time " + FormatDurationMs(max_eval) +
             " at evaluation_interval " + FormatDurationMs(eval_interval) + ": " +
             std::to_string(steps) + " steps of " + std::to_string(rules) +
             " rule(s); a test file may ask for at most " + std::to_string(kMaxRuleEvaluations) +
             " rule evaluations in all (a longer evaluation_interval or an earlier eval_time "
             "needs fewer)";
    }
    evaluations_left_ -= steps * rules;
    return std::nullopt;
  }

  // Evaluates the rules at 0, interval, ... max_eval and compares the firing alerts at each
  // alert test's eval_time. False (with *errs) when a rule fails to evaluate: promtool stops.
  static bool RunAlertTests(RuleManager& mgr, const std::vector<AlertTest>& ats,
                            int64_t max_eval, int64_t eval_interval,
                            const std::function<void(int64_t)>& load_till,
                            const std::string& test_name, std::vector<std::string>* errs) {
    std::vector<int64_t> times;
    for (const auto& a : ats) times.push_back(a.eval_time);
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    size_t curr = 0;
    for (int64_t ts = 0; ts <= max_eval; ts += eval_interval) {
      load_till(ts);
      mgr.EvaluateAt(ts);
      bool eval_err = false;
      for (const auto& r : mgr.Rules()) {
        if (!r.last_error.empty()) {
          // promtool prints this time as a Go time.Duration ("4m0s"), unlike the others.
          errs->push_back("    rule: " + r.name + ", time: " + GoDuration(ts) +
                          ", err: " + r.last_error);
          eval_err = true;
        }
      }
      if (eval_err) return false;
      while (curr < times.size() && ts <= times[curr] && times[curr] < ts + eval_interval) {
        CompareAlerts(mgr.ActiveAlerts(), ats, times[curr], test_name, errs);
        ++curr;
      }
    }
    return true;
  }

  // The firing alerts against every alert test at eval_time t.
  static void CompareAlerts(const std::vector<Alert>& active,
                            const std::vector<AlertTest>& ats, int64_t t,
                            const std::string& test_name, std::vector<std::string>* errs) {
    for (const auto& at : ats) {
      if (at.eval_time != t) continue;
      std::vector<std::pair<Labels, Labels>> got;
      for (const auto& a : active) {
        if (a.rule == at.alertname && a.state == AlertState::kFiring)
          got.emplace_back(a.labels, a.annotations);
      }
      auto exp = at.exp;
      std::sort(got.begin(), got.end());
      std::sort(exp.begin(), exp.end());
      if (got != exp) {
        errs->push_back(test_name + "    alertname: " + at.alertname +
                        ", time: " + FormatDurationMs(t) + ", \n        exp:" +
                        Indent(AlertsString(exp)) + ", \n        got:" + Indent(AlertsString(got)));
      }
    }
  }

  // One promql_expr_test: evaluates the expression over the loaded input and compares samples.
  static void CheckExprTest(const ExprTest& et, const SeriesStore& store,
                            std::vector<std::string>* errs) {
    const std::string at = "    expr: \"" + et.expr + "\", time: " +
                           FormatDurationMs(et.eval_time) + ", err: ";
    promql::ParseError perr;
    auto expr = promql::Parse(et.expr, &perr);
    if (!expr) {
      errs->push_back(at + std::to_string(perr.pos) + ": parse error: " + perr.message);
      return;
    }
    auto res = promql::Evaluate(*expr, et.eval_time, store);
    if (!res.ok()) {
      errs->push_back(at + res.status().message());
      return;
    }
    std::vector<std::pair<Labels, double>> got;
    if (res->type == promql::ValueType::kScalar) {
      got.emplace_back(Labels(), res->scalar);
    } else if (res->type == promql::ValueType::kVector) {
      for (const auto& s : res->vector) got.emplace_back(s.labels, s.v);
    } else {
      errs->push_back(at + "rule result is not a vector or scalar");
      return;
    }
    std::vector<std::pair<Labels, double>> exp;
    for (const auto& [text, v] : et.exp) {
      std::string metric;
      std::vector<std::pair<std::string, std::string>> lbs;
      if (!promql::ParseSeriesDescription(text, &metric, &lbs, &perr) &&
          !(text.empty() || text[0] == '{')) {
        errs->push_back(at + "labels \"" + text + "\": " + perr.message);
        return;
      }
      Labels l(lbs);
      if (!metric.empty()) l.Set("__name__", metric);
      exp.emplace_back(std::move(l), v);
    }
    auto by_labels = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::sort(got.begin(), got.end(), by_labels);
    std::sort(exp.begin(), exp.end(), by_labels);
    if (!SameSamples(got, exp)) {
      errs->push_back(
          // promtool 2.42 names the test group only in failed alert tests, not here.
          "    expr: " + GoQuote(et.expr) + ", time: " + FormatDurationMs(et.eval_time) +
          ",\n        exp: " + SamplesString(exp) + "\n        got: " + SamplesString(got));
    }
  }

  // Sorted by labels: the same labels with the same values (NaN never equals, as in promtool).
  static bool SameSamples(const std::vector<std::pair<Labels, double>>& got,
                          const std::vector<std::pair<Labels, double>>& exp) {
    if (got.size() != exp.size()) return false;
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i].first != exp[i].first || !SameValue(got[i].second, exp[i].second)) return false;
    }
    return true;
  }

  static std::string AlertsString(const std::vector<std::pair<Labels, Labels>>& v) {
    if (v.empty()) return "[]";
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      s += (i ? ",\n" : "\n") + std::to_string(i) + ":\n  Labels:" + GoLabels(v[i].first) +
           "\n  Annotations:" + GoLabels(v[i].second);
    }
    return s + "\n]";
  }

  // As promtool's parsedSamplesString: "nil" when empty, values as Go's %E (shortest digits).
  static std::string SamplesString(const std::vector<std::pair<Labels, double>>& v) {
    if (v.empty()) return "nil";
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      s += GoLabels(v[i].first) + " " + FormatGoFloatE(v[i].second);
    }
    return s;
  }

  // promtool indents the lines of an alert list under "exp:"/"got:" by 12 spaces.
  static std::string Indent(const std::string& s) {
    std::string out;
    for (char ch : s) {
      out += ch;
      if (ch == '\n') out += std::string(12, ' ');
    }
    return out;
  }

  std::string file_;
  std::ostream& out_;
  int64_t evaluations_left_ = kMaxRuleEvaluations;  // for the whole file
};

}  // namespace

Result<std::vector<std::optional<double>>> ExpandSeriesValues(const std::string& text) {
  std::vector<std::optional<double>> values;
  std::vector<std::optional<double>>* out = &values;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    size_t p = 0;
    auto fail = [&](const std::string& why) {
      return Status::InvalidArgument("bad value '" + tok + "': " + why);
    };
    // `1x999999999` (or many `_x9999999` tokens) would allocate gigabytes: bound the series as a
    // whole, whatever mix of tokens makes it up.
    auto room = [&](uint64_t n) { return out->size() + n <= kMaxSeriesValues; };
    if (tok[0] == '_') {
      p = 1;
      uint64_t n = 1;
      if (p < tok.size() && !ReadTimes(tok, &p, &n)) return fail("expected _ or _xN");
      if (p != tok.size()) return fail("unexpected characters");
      if (!room(n)) return fail("more than " + std::to_string(kMaxSeriesValues) + " values");
      for (uint64_t i = 0; i < n; ++i) out->push_back(std::nullopt);
      continue;
    }
    if (tok == "stale") {
      out->push_back(promql::StaleNaN());
      continue;
    }
    double a = 0;
    if (!ReadNumber(tok, &p, &a)) return fail("expected a number");
    if (p == tok.size()) {
      out->push_back(a);
      continue;
    }
    uint64_t n = 0;
    if (tok[p] == 'x') {
      if (!ReadTimes(tok, &p, &n) || p != tok.size()) return fail("expected axN");
      if (!room(n + 1)) return fail("more than " + std::to_string(kMaxSeriesValues) + " values");
      for (uint64_t i = 0; i <= n; ++i) out->push_back(a);
      continue;
    }
    if (tok[p] != '+' && tok[p] != '-') return fail("expected +, - or x after the number");
    double b = 0;
    if (!ReadNumber(tok, &p, &b)) return fail("expected the increment");
    if (!ReadTimes(tok, &p, &n) || p != tok.size()) return fail("expected a+bxN");
    if (!room(n + 1)) return fail("more than " + std::to_string(kMaxSeriesValues) + " values");
    // Repeated addition (not a + i*b): promtool accumulates, and floats must match exactly.
    out->push_back(a);
    for (uint64_t i = 1; i <= n; ++i) {
      a += b;
      out->push_back(a);
    }
  }
  return values;
}

int RunRuleTests(const std::vector<std::string>& files, std::ostream& out) {
  bool failed = false;
  for (const auto& f : files) {
    FileRunner r(f, out);
    if (!r.Run()) failed = true;
  }
  return failed ? 1 : 0;
}

}  // namespace obsmon::alerts
