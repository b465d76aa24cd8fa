// What the daemon benchmarks read of a /metrics body (obsmon's, Prometheus's): the sum of every
// sample whose line starts with `prefix`, e.g. "obsmon_probe_runs_total{" for a whole family.
#pragma once

#include <sstream>
#include <string>

namespace obsmon::bench {

inline double SumFamily(const std::string& body, const std::string& prefix) {
  double total = 0;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace obsmon::bench
