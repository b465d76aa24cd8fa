#include "probes/codecarbon_probe.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/json_depth.h"
#include "probes/csv_records.h"

namespace obsmon::probes {

namespace {

constexpr const char* kRunEmissions = "codecarbon_run_emissions_kg";
constexpr const char* kRunEnergy = "codecarbon_run_energy_consumed_kwh";

std::string HexDigest(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Reads up to `max` bytes of `path` from `offset`. Empty on error. The buffer is sized by what
// the file holds past `offset`, not by `max`: zeroing max_read_bytes (16 MB) per file on every
// run cost 16 MB and milliseconds for a few new rows (70 ms under ASan: 14 fuzz runs a second).
std::string ReadRange(const std::string& path, int64_t offset, size_t max) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  if (size <= offset) return {};
  in.seekg(offset);
  std::string out(std::min(max, static_cast<size_t>(size - offset)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// A codecarbon number: empty fields (no GPU) are 0; nullopt for anything unparsable.
std::optional<double> Number(const std::string& text) {
  if (text.empty()) return 0.0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// codecarbon writes flat objects (an array of them at most): anything nested deeper than this is
// not its output. nlohmann's parser is iterative, but copying, printing and destroying a parsed
// value recurse once per level, so a file of 100k '[' would overflow the stack.
constexpr int kMaxJsonDepth = 32;

std::string BaseName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

CodecarbonProbe::CodecarbonProbe(const ProbeSpec& spec, CodecarbonOptions options,
                                 const Clock& clock)
    : spec_(spec), options_(std::move(options)), clock_(clock) {}

Labels CodecarbonProbe::CounterLabels(const std::string& project, const std::string& run) const {
  return Labels{{"component", spec_.key.component},
                {"probe", spec_.key.probe},
                {"project", project},
                {"run_id", run}};
}

void CodecarbonProbe::Restore(ProbeStateSource& state) {
  // As at a start: the daemon also restores after storage lost one of this probe's batches
  // after accepting it, whose rows and totals the probe holds but storage does not.
  files_.clear();
  runs_.clear();
  for (auto& cursor : state.LogCursors(spec_.key)) {
    files_[cursor.path].cursor = cursor;
  }
  for (const auto& counter : state.Counters(spec_.key)) {
    const std::string& run = counter.labels.Get("run_id");
    if (run.empty()) continue;
    RunTotals& totals = runs_[run];
    totals.project = counter.labels.Get("project");
    if (counter.name == kRunEmissions) totals.emissions_kg = counter.value;
    if (counter.name == kRunEnergy) totals.energy_kwh = counter.value;
  }
}

std::vector<std::string> CodecarbonProbe::Files() const {
  std::vector<std::string> out;
  if (!options_.files.empty()) {
    for (const auto& f : options_.files) out.push_back(options_.dir + "/" + f);
    return out;
  }
  out.push_back(options_.dir + "/emissions.csv");
  std::error_code ec;
  std::set<std::string> json;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    if (entry.path().extension() == ".json") json.insert(entry.path().string());
  }
  out.insert(out.end(), json.begin(), json.end());
  return out;
}

void CodecarbonProbe::ReadCsv(const std::string& path, std::vector<Row>* rows,
                              std::vector<std::string>* reasons, ProbeResult* result) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;
  const std::string name = BaseName(path);
  // A FIFO or device under codecarbon's name would block the read or never end.
  if (!S_ISREG(st.st_mode)) {
    reasons->push_back(name + ": not a regular file; not read");
    return;
  }
  std::string head = ReadRange(path, 0, 64 << 10);
  size_t nl = head.find('\n');
  if (nl == std::string::npos) return;  // header not complete yet
  const std::string header_line = head.substr(0, nl + 1);
  const std::string fingerprint = HexDigest(header_line);
  auto header_rows = Split(header_line);
  if (header_rows.rows.empty()) return;
  const std::vector<std::string>& header = header_rows.rows[0];

  FileState& state = files_[path];
  LogCursor& cursor = state.cursor;
  const int64_t body_start = static_cast<int64_t>(header_line.size());
  int64_t offset = cursor.offset;
  if (cursor.fingerprint.empty()) {
    offset = body_start;
  } else if (cursor.fingerprint != fingerprint) {
    reasons->push_back(name + ": header changed; re-read with the new columns");
    offset = body_start;
  } else if (cursor.dev != static_cast<uint64_t>(st.st_dev) ||
             cursor.inode != static_cast<uint64_t>(st.st_ino) || st.st_size < cursor.offset) {
    offset = body_start;  // rotated or truncated: re-reading is harmless (run maxima)
  }
  offset = std::max(offset, body_start);

  auto column = [&](const char* col) -> int {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == col) return static_cast<int>(i);
    }
    return -1;
  };
  const int c_emissions = column("emissions");
  const int c_energy = column("energy_consumed");
  const int c_rate = column("emissions_rate");
  const int c_project = column("project_name");
  const int c_run = column("run_id");
  const int c_experiment = column("experiment_id");
  const int c_timestamp = column("timestamp");
  const int c_duration = column("duration");
  if (c_emissions < 0) {
    reasons->push_back(name + ": header has no 'emissions' column");
    return;
  }

  std::string data = ReadRange(path, offset, options_.max_read_bytes);
  auto records = Split(data);
  if (records.consumed == 0 && data.size() >= options_.max_read_bytes) {
    reasons->push_back(name + ": a row longer than " + std::to_string(options_.max_read_bytes) +
                       " bytes was skipped");
    records.consumed = data.size();
  }
  size_t malformed = 0;
  for (const auto& rec : records.rows) {
    if (rec.size() != header.size()) {
      ++malformed;
      continue;
    }
    Row row;
    auto emissions = Number(rec[c_emissions]);
    auto energy = c_energy >= 0 ? Number(rec[c_energy]) : std::optional<double>(0.0);
    if (!emissions || !energy || rec[c_emissions].empty()) {
      ++malformed;
      continue;
    }
    row.emissions_kg = *emissions;
    row.energy_kwh = *energy;
    if (c_rate >= 0) {
      if (auto rate = Number(rec[c_rate]); rate && !rec[c_rate].empty()) {
        row.rate_kg_per_s = *rate;
        row.has_rate = true;
      }
    }
    row.project = c_project >= 0 && !rec[c_project].empty() ? rec[c_project] : "codecarbon";
    if (c_run >= 0 && !rec[c_run].empty()) {
      row.run = rec[c_run];
    } else {
      // codecarbon 1.x: one row per run and no run_id (experiment_id is shared by runs).
      row.run = "row:" + (c_experiment >= 0 ? rec[c_experiment] : "") + "/" +
                (c_timestamp >= 0 ? rec[c_timestamp] : "") + "/" +
                (c_duration >= 0 ? rec[c_duration] : "");
    }
    rows->push_back(std::move(row));
  }
  if (malformed > 0) {
    reasons->push_back(name + ": " + std::to_string(malformed) + " malformed row(s) skipped");
  }
  cursor.key = spec_.key;
  cursor.path = path;
  cursor.dev = static_cast<uint64_t>(st.st_dev);
  cursor.inode = static_cast<uint64_t>(st.st_ino);
  cursor.fingerprint = fingerprint;
  cursor.offset = offset + static_cast<int64_t>(records.consumed);
  cursor.updated_ms = clock_.NowMs();
  state.header = header;
  result->log_cursors.push_back(cursor);
}

namespace {

std::optional<double> JsonNumber(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) return Number(it->get<std::string>());
  return std::nullopt;
}

std::string JsonString(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_null()) return "";
  return it->dump();
}

}  // namespace

void CodecarbonProbe::ReadJson(const std::string& path, std::vector<Row>* rows,
                               std::vector<std::string>* reasons, ProbeResult* result) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;
  const std::string name = BaseName(path);
  if (!S_ISREG(st.st_mode)) {
    reasons->push_back(name + ": not a regular file; not read");
    return;
  }
  FileState& state = files_[path];
  LogCursor& cursor = state.cursor;
  // A JSON file is rewritten as a whole: re-read it when it changed (run maxima make that safe).
  const std::string fingerprint = "json:" + std::to_string(st.st_size) + ":" +
                                  std::to_string(st.st_mtim.tv_sec) + "." +
                                  std::to_string(st.st_mtim.tv_nsec);
  if (cursor.fingerprint == fingerprint) return;
  if (static_cast<size_t>(st.st_size) > options_.max_read_bytes) {
    reasons->push_back(name + ": larger than " + std::to_string(options_.max_read_bytes) +
                       " bytes; not read");
    return;
  }
  std::string data = ReadRange(path, 0, options_.max_read_bytes);
  if (JsonNestingDepth(data, kMaxJsonDepth) > kMaxJsonDepth) {
    reasons->push_back(name + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                       " levels; not codecarbon output, not read");
    return;
  }
  std::vector<nlohmann::json> objects;
  auto doc = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) {
    if (doc.is_array()) {
      for (auto& o : doc) objects.push_back(o);
    } else {
      objects.push_back(doc);
    }
  } else {
    // JSON lines: one object per complete line; a half-written last line waits.
    size_t start = 0, bad = 0;
    while (true) {
      size_t nl = data.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(data.data() + start, nl - start);
      start = nl + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto o = nlohmann::json::parse(line, nullptr, false);
      if (o.is_discarded()) {
        ++bad;
      } else {
        objects.push_back(std::move(o));
      }
    }
    if (bad > 0) reasons->push_back(name + ": " + std::to_string(bad) + " malformed line(s)");
    if (objects.empty() && bad == 0 && !data.empty()) return;  // still being written
  }
  size_t malformed = 0;
  for (const auto& o : objects) {
    auto emissions = o.is_object() ? JsonNumber(o, "emissions") : std::nullopt;
    if (!emissions) {
      ++malformed;
      continue;
    }
    Row row;
    row.emissions_kg = *emissions;
    row.energy_kwh = JsonNumber(o, "energy_consumed").value_or(0);
    if (auto rate = JsonNumber(o, "emissions_rate")) {
      row.rate_kg_per_s = *rate;
      row.has_rate = true;
    }
    row.project = JsonString(o, "project_name");
    if (row.project.empty()) row.project = "codecarbon";
    row.run = JsonString(o, "run_id");
    if (row.run.empty()) {
      row.run = "row:" + JsonString(o, "experiment_id") + "/" + JsonString(o, "timestamp") + "/" +
                JsonString(o, "duration");
    }
    rows->push_back(std::move(row));
  }
  if (malformed > 0) {
    reasons->push_back(name + ": " + std::to_string(malformed) + " entries without emissions");
  }
  cursor.key = spec_.key;
  cursor.path = path;
  cursor.dev = static_cast<uint64_t>(st.st_dev);
  cursor.inode = static_cast<uint64_t>(st.st_ino);
  cursor.fingerprint = fingerprint;
  cursor.offset = static_cast<int64_t>(st.st_size);
  cursor.updated_ms = clock_.NowMs();
  result->log_cursors.push_back(cursor);
}

void CodecarbonProbe::Apply(const Row& row, ProbeResult* result) {
  RunTotals& totals = runs_[row.run];
  if (totals.project.empty()) totals.project = row.project;
  if (row.emissions_kg > totals.emissions_kg) {
    result->counters.push_back({kRunEmissions, CounterLabels(totals.project, row.run),
                                row.emissions_kg - totals.emissions_kg});
    totals.emissions_kg = row.emissions_kg;
  }
  if (row.energy_kwh > totals.energy_kwh) {
    result->counters.push_back(
        {kRunEnergy, CounterLabels(totals.project, row.run), row.energy_kwh - totals.energy_kwh});
    totals.energy_kwh = row.energy_kwh;
  }
  if (row.has_rate) rate_[totals.project] = row.rate_kg_per_s;
}

ProbeResult CodecarbonProbe::Run(const Deadline& deadline) {
  ProbeResult result;
  std::vector<std::string> reasons;
  std::vector<Row> rows;
  bool found = false;
  std::error_code ec;
  if (!std::filesystem::is_directory(options_.dir, ec)) {
    return ProbeResult::Down("no such directory " + options_.dir);
  }
  for (const auto& path : Files()) {
    if (deadline.Expired(clock_)) {
      reasons.push_back("timeout: files left for the next run");
      break;
    }
    if (!std::filesystem::exists(path, ec)) continue;
    found = true;
    if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
      ReadJson(path, &rows, &reasons, &result);
    } else {
      ReadCsv(path, &rows, &reasons, &result);
    }
  }
  for (const auto& row : rows) Apply(row, &result);

  std::map<std::string, std::pair<double, double>> by_project;  // emissions, energy
  for (const auto& [run, totals] : runs_) {
    auto& p = by_project[totals.project];
    p.first += totals.emissions_kg;
    p.second += totals.energy_kwh;
  }
  for (const auto& [project, sums] : by_project) {
    Labels labels = spec_.labels;
    labels.Set("component", spec_.key.component);
    labels.Set("probe", spec_.key.probe);
    labels.Set("project", project);
    result.samples.push_back({"carbon_emissions_kg", labels, 0, sums.first});
    result.samples.push_back({"carbon_energy_consumed_kwh", labels, 0, sums.second});
    if (auto it = rate_.find(project); it != rate_.end()) {
      result.samples.push_back({"carbon_emissions_rate_kg_per_second", labels, 0, it->second});
    }
  }
  if (!found) reasons.push_back("no codecarbon output in " + options_.dir);
  result.success = reasons.empty();
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i) result.reason += "; ";
    result.reason += reasons[i];
  }
  return result;
}

std::unique_ptr<Probe> MakeCodecarbonProbe(const ProbeSpec& spec, ConfigNode& settings,
                                           const Clock& clock) {
  CodecarbonOptions options;
  auto dir = settings.String("dir", /*required=*/true);
  if (auto files = settings.StringList("files")) {
    for (const auto& f : *files) {
      if (f.empty() || f.find('/') != std::string::npos) {
        settings.ErrorAt("files", "files are names inside dir, without '/': '" + f + "'");
        return nullptr;
      }
    }
    options.files = *files;
  }
  if (!dir) return nullptr;
  options.dir = *dir;
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  return std::make_unique<CodecarbonProbe>(spec, std::move(options), clock);
}

}  // namespace obsmon::probes
