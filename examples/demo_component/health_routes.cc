#include "examples/demo_component/health_routes.h"

#include <string>

namespace obsmon::demo {

void RegisterHealthRoutes(httplib::Server& server, const Clock& clock, FailureSchedule& schedule) {
  const TimestampMs started = clock.NowMs();
  server.Get(
      "/health", [&clock, &schedule, started](const httplib::Request&, httplib::Response& res) {
        TimestampMs now = clock.NowMs();
        std::string uptime = std::to_string((now - started) / 1000);
        if (schedule.ShouldFail(now)) {
          const char* why = schedule.InWindow(now) ? "scheduled failure window" : "random failure";
          res.status = 503;
          res.set_content(
              std::string("{\"status\":\"FAILING\",\"component\":\"carbon\",\"reason\":\"") + why +
                  "\",\"uptime_seconds\":" + uptime + "}\n",
              "application/json");
          return;
        }
        res.set_content(
            "{\"status\":\"OK\",\"component\":\"carbon\",\"uptime_seconds\":" + uptime + "}\n",
            "application/json");
      });
}

}  // namespace obsmon::demo
