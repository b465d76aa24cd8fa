// The scheduler's search for the earliest run no worker holds (Scheduler::FirstUnclaimed).
//
// The runs are filed by due time (a multimap). A worker that claims a run of a Startable probe
// covers the batch window after it: the runs in it are its batch, not claims of their own. So
// the earliest unclaimed run is found by walking past the claimed runs and the runs their
// windows cover. At 1,000 probes at 1 s and a 100 ms window a claim covers ~100 runs, and the
// workers looked for it at every claim, wake-up and run: the walk was 6 % of the workers' CPU
// (docs/benchmarks.md, "Stop 70: where a run's microseconds go"). `FirstUncovered` jumps over
// a covered stretch with one lookup instead, and walks run by run only near a run of a probe
// that is not Startable (those end a stretch). `FirstUncoveredByWalking` is the plain walk it
// must equal (tests/runtime/due_walk_test.cc compares them on random schedules).
//
// Index: std::multimap<SteadyTime, std::shared_ptr<E>>, E with `claimant` (< 0: unclaimed),
// `startable` and `next_due` (the key it is filed under).
#pragma once

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

#include "core/clock.h"

namespace obsmon {

// Walks the index run by run: a claimed run is passed (and a Startable one covers the window
// after its due time, when `batching`); an unclaimed Startable run inside a window is passed;
// the first other run is the answer, or end() when there is none.
template <typename Index>
typename Index::iterator FirstUncoveredByWalking(Index& by_due, bool batching,
                                                 SteadyTime::duration window) {
  SteadyTime covered_until = SteadyTime::min();
  auto it = by_due.begin();
  for (; it != by_due.end(); ++it) {
    const auto& e = *it->second;
    if (e.claimant >= 0) {
      if (batching && e.startable) covered_until = std::max(covered_until, it->first + window);
      continue;
    }
    if (batching && e.startable && it->first <= covered_until) continue;
    break;
  }
  return it;
}

// The same answer as FirstUncoveredByWalking, given every claimed entry (`claimed`) and the due
// times of the entries that are not Startable (`unstartable_due`).
template <typename Index, typename Entry>
typename Index::iterator FirstUncovered(Index& by_due, bool batching,
                                        SteadyTime::duration window,
                                        const std::vector<Entry*>& claimed,
                                        const std::multiset<SteadyTime>& unstartable_due) {
  SteadyTime covered_until = SteadyTime::min();
  auto it = by_due.begin();
  while (it != by_due.end()) {
    const auto& e = *it->second;
    if (e.claimant >= 0) {
      if (batching && e.startable) covered_until = std::max(covered_until, it->first + window);
      ++it;
      continue;
    }
    if (!(batching && e.startable && it->first <= covered_until)) break;
    // Covered. So is every run up to covered_until, and the claims among them cover on: the
    // walk would pass them all, unless a run that is not Startable stands among them.
    SteadyTime reach = covered_until;
    for (bool grew = true; grew;) {
      grew = false;
      for (const Entry* c : claimed) {
        if (c->startable && c->next_due >= it->first && c->next_due <= reach &&
            c->next_due + window > reach) {
          reach = c->next_due + window;
          grew = true;
        }
      }
    }
    if (auto u = unstartable_due.lower_bound(it->first);
        u != unstartable_due.end() && *u <= reach) {
      ++it;  // near one: run by run, as the walk does
      continue;
    }
    covered_until = reach;
    it = by_due.upper_bound(covered_until);
  }
  return it;
}

}  // namespace obsmon
