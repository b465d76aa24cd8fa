// report/alert_pairing: history rows paired into alerts as they are read, the longest kept and
// the rest counted, against lists worked out by hand and a brute-force oracle.
#include "report/alert_pairing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace obsmon {
namespace {

constexpr int64_t kT0 = 1'760'400'000'000;

storage::AlertHistoryRow Row(int64_t ts, const std::string& event, const std::string& rule,
                             const std::string& labels, const std::string& summary = "",
                             const std::string& group = "rules.yml;g") {
  storage::AlertHistoryRow row;
  row.ts_ms = ts;
  row.event = event;
  row.rule = rule;
  row.group_key = group;
  row.labels = labels;
  row.summary = summary;
  return row;
}

AlertPairing::Listed Pair(const std::vector<storage::AlertHistoryRow>& rows, size_t max_listed,
                          int64_t until) {
  AlertPairing pairing(max_listed, until);
  for (auto row : rows) pairing.Add(std::move(row));
  return std::move(pairing).Finish();
}

TEST(AlertPairingTest, PairsFiringWithResolved) {
  const auto listed = Pair(
      {
          Row(kT0 + 1, "resolved", "Old", "{a=\"1\"}"),  // fired before the window: dropped
          Row(kT0 + 2, "firing", "ProbeDown", "{a=\"1\"}", "down"),
          Row(kT0 + 3, "firing", "ProbeDown", "{a=\"2\"}", "down"),
          Row(kT0 + 4, "firing", "ProbeDown", "{a=\"1\"}", "down"),  // resend: not a new alert
          Row(kT0 + 5, "resolved", "ProbeDown", "{a=\"1\"}"),
      },
      0, kT0 + 100);
  ASSERT_EQ(listed.alerts.size(), 2u);
  EXPECT_EQ(listed.not_listed, 0u);
  EXPECT_EQ(listed.alerts[0].fired_ms, kT0 + 2);
  EXPECT_EQ(listed.alerts[0].resolved_ms, kT0 + 5);
  EXPECT_EQ(listed.alerts[0].summary, "down");
  EXPECT_EQ(listed.alerts[1].labels, "{a=\"2\"}");
  EXPECT_FALSE(listed.alerts[1].resolved_ms.has_value());
}

// Two groups may each hold an alert of one name and labels (a rule copied into a second file
// with another `for`): two alerts, each with its own resolution. Paired by name and labels
// alone, the second vanished and the first took its resolution (fresh eyes, stop 69).
TEST(AlertPairingTest, AlertsOfOneNameInTwoGroupsAreTwo) {
  const auto listed = Pair(
      {
          Row(kT0 + 37'000, "firing", "Twin", "{job=\"c\"}", "", "rules2.yml;g2"),
          Row(kT0 + 40'000, "firing", "Twin", "{job=\"c\"}", "", "rules2.yml;g3"),
          Row(kT0 + 44'000, "resolved", "Twin", "{job=\"c\"}", "", "rules2.yml;g3"),
          Row(kT0 + 52'000, "resolved", "Twin", "{job=\"c\"}", "", "rules2.yml;g2"),
      },
      0, kT0 + 100'000);
  ASSERT_EQ(listed.alerts.size(), 2u);
  EXPECT_EQ(listed.alerts[0].fired_ms, kT0 + 37'000);
  EXPECT_EQ(listed.alerts[0].resolved_ms, kT0 + 52'000);
  EXPECT_EQ(listed.alerts[1].fired_ms, kT0 + 40'000);
  EXPECT_EQ(listed.alerts[1].resolved_ms, kT0 + 44'000);
}

// The report read the first 1,000 rows and counted only what they held (stop 69): a flapping
// alert's week listed ~500 alerts and said nothing of the rest. Now every row is read, the
// longest are listed (an open one lasting to `until`; ties: the earlier) and the rest counted.
TEST(AlertPairingTest, KeepsTheLongestAndCountsTheRest) {
  std::vector<storage::AlertHistoryRow> rows;
  // 10 flaps of 1 s, one of 50 s at +100 s, one of 5 s at +200 s, 5 more of 1 s, then one
  // still open at +300 s (until +400 s: 100 s).
  int64_t t = kT0;
  for (int i = 0; i < 10; ++i, t += 10'000) {
    rows.push_back(Row(t, "firing", "Flap", "{}"));
    rows.push_back(Row(t + 1'000, "resolved", "Flap", "{}"));
  }
  rows.push_back(Row(kT0 + 100'000, "firing", "Long", "{}"));
  rows.push_back(Row(kT0 + 150'000, "resolved", "Long", "{}"));
  rows.push_back(Row(kT0 + 200'000, "firing", "Mid", "{}"));
  rows.push_back(Row(kT0 + 205'000, "resolved", "Mid", "{}"));
  for (int i = 0; i < 5; ++i) {
    rows.push_back(Row(kT0 + 210'000 + i * 10'000, "firing", "Flap", "{}"));
    rows.push_back(Row(kT0 + 211'000 + i * 10'000, "resolved", "Flap", "{}"));
  }
  rows.push_back(Row(kT0 + 300'000, "firing", "Open", "{}"));
  const auto listed = Pair(rows, 4, kT0 + 400'000);
  EXPECT_EQ(listed.not_listed, 14u);  // 18 alerts fired, 4 listed
  std::vector<std::pair<std::string, int64_t>> got;
  for (const auto& a : listed.alerts) got.emplace_back(a.rule, a.fired_ms - kT0);
  // The four longest, in the order they fired: the first of the 1 s flaps wins the tie.
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int64_t>>{
                     {"Flap", 0}, {"Long", 100'000}, {"Mid", 200'000}, {"Open", 300'000}}));
}

// Against a brute force: every alert paired in a plain list, sorted by length then by firing
// order, the first max_listed kept; random histories of several rules and label sets.
TEST(AlertPairingTest, AgreesWithSortingEveryAlert) {
  std::mt19937 rng(69);
  for (int round = 0; round < 300; ++round) {
    std::vector<storage::AlertHistoryRow> rows;
    int64_t t = kT0;
    const int n = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int i = 0; i < n; ++i) {
      t += std::uniform_int_distribution<int64_t>(0, 3)(rng) * 1'000;  // ties of time too
      const std::string rule = "R" + std::to_string(rng() % 3);
      const std::string labels = "{i=\"" + std::to_string(rng() % 2) + "\"}";
      const std::string group = "g" + std::to_string(rng() % 2);
      rows.push_back(Row(t, rng() % 2 ? "firing" : "resolved", rule, labels, "", group));
    }
    const int64_t until = t + 5'000;
    // The oracle: pair in one list, as before stop 69.
    struct Fired {
      AlertFired alert;
      size_t order;
    };
    std::vector<Fired> all;
    std::vector<std::tuple<std::string, std::string, std::string>> open_keys;
    std::vector<size_t> open_at;
    for (const auto& r : rows) {
      const auto key = std::make_tuple(r.group_key, r.rule, r.labels);
      const auto it = std::find(open_keys.begin(), open_keys.end(), key);
      if (r.event == "firing" && it == open_keys.end()) {
        open_keys.push_back(key);
        open_at.push_back(all.size());
        all.push_back({{r.ts_ms, std::nullopt, r.rule, r.labels, r.summary}, all.size()});
      } else if (r.event == "resolved" && it != open_keys.end()) {
        const size_t at = static_cast<size_t>(it - open_keys.begin());
        all[open_at[at]].alert.resolved_ms = r.ts_ms;
        open_keys.erase(it);
        open_at.erase(open_at.begin() + static_cast<std::ptrdiff_t>(at));
      }
    }
    const size_t max_listed = std::uniform_int_distribution<size_t>(0, 8)(rng);
    std::vector<Fired> expect = all;
    if (max_listed != 0 && expect.size() > max_listed) {
      auto length = [&](const Fired& f) {
        return f.alert.resolved_ms.value_or(until) - f.alert.fired_ms;
      };
      std::stable_sort(expect.begin(), expect.end(), [&](const Fired& a, const Fired& b) {
        return length(a) > length(b);
      });
      expect.resize(max_listed);
      std::sort(expect.begin(), expect.end(),
                [](const Fired& a, const Fired& b) { return a.order < b.order; });
    }
    const auto listed = Pair(rows, max_listed, until);
    ASSERT_EQ(listed.alerts.size(), expect.size()) << "round " << round;
    EXPECT_EQ(listed.not_listed, all.size() - expect.size()) << "round " << round;
    for (size_t i = 0; i < expect.size(); ++i) {
      EXPECT_EQ(std::tie(listed.alerts[i].rule, listed.alerts[i].labels,
                         listed.alerts[i].fired_ms, listed.alerts[i].resolved_ms),
                std::tie(expect[i].alert.rule, expect[i].alert.labels, expect[i].alert.fired_ms,
                         expect[i].alert.resolved_ms))
          << "round " << round << ", alert " << i;
    }
  }
}

}  // namespace
}  // namespace obsmon
