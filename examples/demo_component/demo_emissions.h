// The demo component's carbon tracking, in codecarbon's shape: emissions accumulate at a steady
// rate from start-up (one codecarbon "run" per process, with its own run_id), and every
// `write_every_ms` a row with the run's running totals is appended to <dir>/emissions.csv with
// codecarbon 2.x's header, as codecarbon's flush() does. Thread-safe: Tick() from the writer
// thread, Now() from HTTP handler threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "core/clock.h"

namespace obsmon::demo {

struct EmissionsOptions {
  std::string dir;                      // CARBON_OUTPUT_DIR; empty: no file is written
  std::string project = "TTA-Staging";  // codecarbon's project_name
  double kg_per_second = 0.0002;        // emissions rate (1 kg after ~83 minutes)
  double kwh_per_kg = 2.5;              // energy per kg of CO2eq (grid intensity 0.4 kg/kWh)
  int64_t write_every_ms = 15'000;      // codecarbon's default measure_power_secs
};

// The running totals of this run at one moment.
struct EmissionsSnapshot {
  std::string project;
  std::string run_id;
  double duration_seconds = 0;
  double emissions_kg = 0;
  double energy_kwh = 0;
  double rate_kg_per_second = 0;
};

class DemoEmissions {
 public:
  // `clock` must outlive this object. The run starts now.
  DemoEmissions(EmissionsOptions options, const Clock& clock);

  EmissionsSnapshot Now() const;
  // Appends a row when write_every_ms has passed since the last one (creating the file with its
  // header first). Returns false when the file cannot be written.
  bool Tick();
  // Appends a row now.
  bool WriteRow();

 private:
  const EmissionsOptions options_;
  const Clock& clock_;
  const TimestampMs started_ms_;
  const std::string run_id_;
  std::mutex mutex_;
  TimestampMs last_write_ms_ = 0;  // guarded by mutex_
};

}  // namespace obsmon::demo
