// Test-only: an independent, deliberately naive model of the uptime semantics (docs/uptime.md),
// written without looking at report/uptime.cc's sweep. It asks "what is the state at instant
// t?" for every step of the window and adds the answers up, so the tests compare two different
// formulations of the same rules.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/records.h"

namespace obsmon::uptime_oracle {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// 2025-10-14T00:00:00Z, the seeds' observation start.
constexpr int64_t kT0 = 1'760'400'000'000;

inline ProbeRun MakeRun(const std::string& probe, int64_t ts, bool ok, int64_t valid_for,
                        const std::string& reason = "", double seconds = 0.01,
                        ProbeRole role = ProbeRole::kHealth,
                        const std::string& component = "carbon") {
  ProbeRun r;
  r.key = {component, probe};
  r.role = role;
  r.ts_ms = ts;
  r.success = ok;
  r.duration_seconds = seconds;
  r.valid_for_ms = valid_for;
  r.reason = ok ? "" : (reason.empty() ? "status 503" : reason);
  return r;
}

struct OracleIncident {
  int64_t start = 0;
  int64_t end = 0;
  std::set<std::string> probes;
  std::string first_probe;
  std::string first_reason;
  bool ongoing = false;
  bool began_before_window = false;
};

struct Oracle {
  int64_t up = 0, down = 0, unknown = 0, excluded = 0;
  std::vector<OracleIncident> incidents;
};

enum class OState { kUp, kDown, kUnknown, kExcluded };

// The state at instant t and, when down, which probes fail and the opening run.
struct Instant {
  OState state = OState::kUnknown;
  std::set<std::string> down_probes;
  const ProbeRun* first = nullptr;
};

// What one probe offers at instant t: its first run ever, and its last run at or before t.
struct ProbeView {
  std::string name;
  const ProbeRun* first_run = nullptr;
  const ProbeRun* last_at_or_before = nullptr;  // null before the first run
};

inline Instant StateAt(const std::vector<ProbeView>& probes,
                       const std::vector<std::pair<int64_t, int64_t>>& excluded, int64_t t) {
  Instant in;
  for (const auto& [s, e] : excluded) {
    if (s <= t && t < e) {
      in.state = OState::kExcluded;
      return in;
    }
  }
  int present = 0;
  bool unknown = false;
  for (const auto& p : probes) {
    if (p.first_run->ts_ms > t) continue;  // the probe does not exist yet
    ++present;
    const ProbeRun* last = p.last_at_or_before;
    if (t >= last->ts_ms + last->valid_for_ms) {
      unknown = true;
    } else if (!last->success) {
      in.down_probes.insert(p.name);
      if (in.first == nullptr || last->ts_ms < in.first->ts_ms) in.first = last;
    }
  }
  if (!in.down_probes.empty()) {
    in.state = OState::kDown;
  } else if (unknown || present == 0) {
    in.state = OState::kUnknown;
  } else {
    in.state = OState::kUp;
  }
  return in;
}

// Walks [from, min(to, now)) in steps of `step` ms (every boundary of the scenario must be a
// multiple of `step` away from `from`). Only health runs count.
inline Oracle Walk(const std::vector<ProbeRun>& runs, int64_t from, int64_t to, int64_t now,
                   const std::vector<std::pair<int64_t, int64_t>>& excluded, int64_t step) {
  std::map<std::string, std::vector<ProbeRun>> by_probe;
  for (const auto& r : runs) {
    if (r.role == ProbeRole::kHealth) by_probe[r.key.probe].push_back(r);
  }
  std::vector<const std::vector<ProbeRun>*> lists;
  std::vector<ProbeView> views;
  for (auto& [name, v] : by_probe) {
    std::stable_sort(v.begin(), v.end(),
                     [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
    views.push_back({name, &v.front(), nullptr});
    lists.push_back(&v);
  }
  std::vector<size_t> next(views.size(), 0);  // index of the first run with ts > t
  const int64_t end = std::max(from, std::min(to, now));
  Oracle o;
  std::optional<OracleIncident> open;
  for (int64_t t = from; t < end; t += step) {
    for (size_t i = 0; i < views.size(); ++i) {
      const auto& v = *lists[i];
      while (next[i] < v.size() && v[next[i]].ts_ms <= t) ++next[i];
      views[i].last_at_or_before = next[i] == 0 ? nullptr : &v[next[i] - 1];
    }
    Instant in = StateAt(views, excluded, t);
    switch (in.state) {
      case OState::kUp:
        o.up += step;
        break;
      case OState::kDown:
        o.down += step;
        break;
      case OState::kUnknown:
        o.unknown += step;
        break;
      case OState::kExcluded:
        o.excluded += step;
        break;
    }
    if (in.state == OState::kDown) {
      if (!open) {
        open.emplace();
        open->start = t;
        open->first_probe = in.first->key.probe;
        open->first_reason = in.first->reason;
        open->began_before_window = t == from && in.first->ts_ms < from;
      }
      open->end = t + step;
      open->probes.insert(in.down_probes.begin(), in.down_probes.end());
    } else if (open) {
      o.incidents.push_back(*open);
      open.reset();
    }
  }
  if (open) {
    open->ongoing = open->end == end && end == now;
    o.incidents.push_back(*open);
  }
  return o;
}

}  // namespace obsmon::uptime_oracle
