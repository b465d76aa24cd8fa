// kind: codecarbon — reads what codecarbon writes into its output directory (CARBON_OUTPUT_DIR):
// `emissions.csv` and JSON files with the same fields, incrementally, and exposes per project
//   carbon_emissions_kg, carbon_energy_consumed_kwh, carbon_emissions_rate_kg_per_second.
//
// How totals are derived: codecarbon's `emissions` and `energy_consumed` are cumulative within
// one run (one tracker start..stop; a flush() writes a further row for the same run_id with the
// larger running total). So a run contributes the LARGEST value seen for its run_id, and a
// project's total is the sum over its runs. Rows without run_id (codecarbon 1.x) are runs of
// their own. This makes reading a row twice harmless (it cannot raise a run's maximum twice), so
// rotation, truncation, a rewrite in place (on_csv_write="update") and restarts never
// double-count. Each run's maximum is persisted as the counters
//   codecarbon_run_emissions_kg / codecarbon_run_energy_consumed_kwh
//   {component, probe, project, run_id}
// (CounterDeltas committed with the run), and each file's read position as a LogCursor whose
// fingerprint is a digest of the CSV header: a changed header is reported and the file re-read by
// its new header. A last row without its newline waits for the next run.
//
// Config keys: dir (required), files (optional list of names in dir; default emissions.csv plus
// every *.json in dir). Run() is not reentrant (the scheduler guarantees it); Restore() is
// called once before the first Run().
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "probes/probe.h"

namespace obsmon::probes {

struct CodecarbonOptions {
  std::string dir;
  std::vector<std::string> files;  // empty: emissions.csv + *.json
  // Bytes read from one file per run at most (bounds memory; the rest is read next run).
  size_t max_read_bytes = 16u << 20;
};

class CodecarbonProbe final : public Probe {
 public:
  CodecarbonProbe(const ProbeSpec& spec, CodecarbonOptions options, const Clock& clock);

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override { return options_.dir; }
  void Restore(ProbeStateSource& state) override;

  // One row's figures, as read from CSV or JSON.
  struct Row {
    std::string project;
    std::string run;  // run_id, or a per-row key when the file has none
    double emissions_kg = 0;
    double energy_kwh = 0;
    double rate_kg_per_s = 0;
    bool has_rate = false;
  };

 private:
  struct RunTotals {
    std::string project;
    double emissions_kg = 0;
    double energy_kwh = 0;
  };
  struct FileState {
    LogCursor cursor;
    std::vector<std::string> header;  // columns for cursor.fingerprint
  };

  std::vector<std::string> Files() const;
  // Reads new complete rows of one CSV file; appends problems to `reasons`.
  void ReadCsv(const std::string& path, std::vector<Row>* rows, std::vector<std::string>* reasons,
               ProbeResult* result);
  void ReadJson(const std::string& path, std::vector<Row>* rows, std::vector<std::string>* reasons,
                ProbeResult* result);
  void Apply(const Row& row, ProbeResult* result);
  Labels CounterLabels(const std::string& project, const std::string& run) const;

  ProbeSpec spec_;
  CodecarbonOptions options_;
  const Clock& clock_;
  std::map<std::string, FileState> files_;  // by path
  std::map<std::string, RunTotals> runs_;   // by run key
  std::map<std::string, double> rate_;      // latest emissions_rate by project
};

std::unique_ptr<Probe> MakeCodecarbonProbe(const ProbeSpec& spec, ConfigNode& settings,
                                           const Clock& clock);

}  // namespace obsmon::probes
