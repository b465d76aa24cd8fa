#include "examples/demo_component/demo_emissions.h"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <random>

namespace obsmon::demo {

namespace {

constexpr const char* kHeader =
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,"
    "gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue\n";

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[40];
  uint64_t a = rng(), b = rng();
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a >> 16) & 0xffff, static_cast<unsigned>(a) & 0xfff,
                static_cast<unsigned>(b >> 52) & 0xfff,
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace

DemoEmissions::DemoEmissions(EmissionsOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      started_ms_(clock.NowMs()),
      run_id_(NewRunId()) {}

EmissionsSnapshot DemoEmissions::Now() const {
  EmissionsSnapshot s;
  s.project = options_.project;
  s.run_id = run_id_;
  s.duration_seconds = static_cast<double>(clock_.NowMs() - started_ms_) / 1000.0;
  s.emissions_kg = options_.kg_per_second * s.duration_seconds;
  s.energy_kwh = s.emissions_kg * options_.kwh_per_kg;
  s.rate_kg_per_second = options_.kg_per_second;
  return s;
}

bool DemoEmissions::Tick() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (clock_.NowMs() - last_write_ms_ < options_.write_every_ms) return true;
  }
  return WriteRow();
}

bool DemoEmissions::WriteRow() {
  if (options_.dir.empty()) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  const EmissionsSnapshot s = Now();
  const std::string path = options_.dir + "/emissions.csv";
  struct stat st;
  const bool fresh = ::stat(path.c_str(), &st) != 0 || st.st_size == 0;
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) return false;
  time_t secs = static_cast<time_t>(clock_.NowMs() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  // One row per write, whole, so a reader never sees a half row for long.
  char row[1024];
  const double cpu_kwh = s.energy_kwh * 0.8, ram_kwh = s.energy_kwh * 0.2;
  std::snprintf(row, sizeof row,
                "%s,%s,%s,%.6f,%.12g,%.12g,42.5,0.0,11.7,%.12g,0,%.12g,%.12g,Canada,CAN,quebec,,,"
                "Linux,3.12,2.4.2,8,\"Demo CPU, 8 cores\",,,-71.2,46.8,31.3,machine,N,1.0\n",
                ts, s.project.c_str(), s.run_id.c_str(), s.duration_seconds, s.emissions_kg,
                s.rate_kg_per_second, cpu_kwh, ram_kwh, s.energy_kwh);
  std::string text = fresh ? std::string(kHeader) + row : std::string(row);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  last_write_ms_ = clock_.NowMs();
  return ok;
}

}  // namespace obsmon::demo
