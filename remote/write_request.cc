#include "remote/write_request.h"

#include <snappy.h>

#include "remote/remote_write.pb.h"

namespace obsmon::remote {

std::string EncodeWriteRequest(std::span<const OutgoingSeries> series) {
  prometheus::WriteRequest req;
  req.mutable_timeseries()->Reserve(static_cast<int>(series.size()));
  for (const auto& s : series) {
    prometheus::TimeSeries* ts = req.add_timeseries();
    for (const auto& [name, value] : s.labels.pairs()) {
      prometheus::Label* l = ts->add_labels();
      l->set_name(name);
      l->set_value(value);
    }
    for (const auto& [t, v] : s.samples) {
      prometheus::Sample* out = ts->add_samples();
      out->set_timestamp(t);
      out->set_value(v);  // NaN goes out with its own bits (no staleness marker is made here)
    }
  }
  std::string raw;
  req.SerializeToString(&raw);
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

}  // namespace obsmon::remote
