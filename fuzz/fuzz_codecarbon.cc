// codecarbon output files, read by the probe from a directory: the first byte picks
// emissions.csv or emissions.json. Seeds: rows from tests/probes/codecarbon_probe_test.cc.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "probes/codecarbon_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon;
  using namespace obsmon::probes;
  static const std::string dir = "/tmp/obsmon-fuzz-codecarbon-" + std::to_string(::getpid());
  static const bool made = std::filesystem::create_directories(dir);
  (void)made;
  static FakeClock clock;
  if (size == 0) return 0;
  // The directory holds only this input's file. Removing the two files, not the directory, keeps
  // an rmdir/mkdir per input out of the loop (the probe reads the directory the same way).
  std::error_code ec;
  std::filesystem::remove(dir + "/emissions.json", ec);
  std::filesystem::remove(dir + "/emissions.csv", ec);
  const std::string file = dir + ((data[0] & 1) ? "/emissions.json" : "/emissions.csv");
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  ProbeSpec spec;
  spec.key = {"c", "p"};
  CodecarbonOptions options;
  options.dir = dir;
  CodecarbonProbe probe(spec, options, clock);
  (void)probe.Run(Deadline{clock.SteadyNow() + std::chrono::seconds(5)});
  return 0;
}
