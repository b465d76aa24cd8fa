#include "examples/demo_component/demo_metrics.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "core/labels.h"

namespace obsmon::demo {

std::string RenderMetrics(const EmissionsSnapshot& s, double start_time_seconds, uint64_t scrapes) {
  const std::string project = "{project=\"" + EscapeLabelValue(s.project) + "\"}";
  std::string out;
  char buf[256];
  auto gauge = [&](const char* name, const char* help, const std::string& labels, double v) {
    std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s gauge\n%s%s %.17g\n", name, help, name,
                  name, labels.c_str(), v);
    out += buf;
  };
  gauge("carbon_emissions_kg", "CO2eq emitted by this run so far, in kg.", project, s.emissions_kg);
  gauge("carbon_energy_consumed_kwh", "Energy consumed by this run so far, in kWh.", project,
        s.energy_kwh);
  gauge("carbon_emissions_rate_kg_per_second", "Current emissions rate, in kg per second.", project,
        s.rate_kg_per_second);
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.", "",
        start_time_seconds);
  std::snprintf(buf, sizeof buf,
                "# HELP demo_metrics_scrapes_total Scrapes of /metrics served.\n"
                "# TYPE demo_metrics_scrapes_total counter\ndemo_metrics_scrapes_total %llu\n",
                static_cast<unsigned long long>(scrapes));
  out += buf;
  return out;
}

void RegisterMetricsRoutes(httplib::Server& server, const DemoEmissions& emissions) {
  auto scrapes = std::make_shared<std::atomic<uint64_t>>(0);
  const EmissionsSnapshot first = emissions.Now();
  // The run started duration_seconds ago.
  const double start = [&] {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) - first.duration_seconds;
  }();
  server.Get(
      "/metrics", [&emissions, scrapes, start](const httplib::Request&, httplib::Response& res) {
        const uint64_t n = ++*scrapes;
        res.set_content(RenderMetrics(emissions.Now(), start, n), "text/plain; version=0.0.4");
      });
}

}  // namespace obsmon::demo
