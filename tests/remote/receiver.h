// A fake remote_write receiver on loopback for the remote/ tests: decodes every request with the
// generated WriteRequest classes and snappy (independently of the sender's code), keeps what it
// accepted, and answers with scripted statuses. Thread-safe.
#pragma once

#include <snappy.h>

#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "remote/remote_write.pb.h"
#include "tests/support/test_http_server.h"

namespace obsmon::testing {

struct ReceivedSample {
  std::string labels;  // name=value pairs in wire order, comma-separated
  int64_t ts_ms = 0;
  double value = 0;
  friend bool operator==(const ReceivedSample&, const ReceivedSample&) = default;
};

// "a=1,b=2" for a TimeSeries' labels, in the order they came.
inline std::string WireLabels(const prometheus::TimeSeries& ts) {
  std::string out;
  for (const auto& l : ts.labels()) {
    if (!out.empty()) out += ",";
    out += l.name() + "=" + l.value();
  }
  return out;
}

// Decodes a request body; false when it is not snappy + WriteRequest.
inline bool DecodeBody(const std::string& body, prometheus::WriteRequest* req) {
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) return false;
  return req->ParseFromString(raw);
}

class FakeReceiver {
 public:
  FakeReceiver() {
    server_.server().Post("/write", [this](const httplib::Request& q, httplib::Response& r) {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
      headers_ok_ = headers_ok_ && q.get_header_value("Content-Encoding") == "snappy" &&
                    q.get_header_value("Content-Type") == "application/x-protobuf" &&
                    q.get_header_value("X-Prometheus-Remote-Write-Version") == "0.1.0" &&
                    q.get_header_value("User-Agent").rfind("obsmon/", 0) == 0;
      last_headers_ = q.headers;
      int status = 204;
      if (!statuses_.empty()) {
        status = statuses_.front();
        if (statuses_.size() > 1 || !repeat_last_) statuses_.pop_front();
      }
      prometheus::WriteRequest req;
      if (!DecodeBody(q.body, &req)) {
        bad_bodies_++;
        r.status = 400;
        return;
      }
      size_t n = 0;
      for (const auto& ts : req.timeseries()) {
        n += ts.samples_size();
        for (const auto& s : ts.samples()) {
          if (!seen_.insert({WireLabels(ts), s.timestamp()}).second) ++duplicates_;
        }
      }
      samples_in_requests_ += n;
      r.status = status;
      if (status >= 200 && status < 300) {
        for (const auto& ts : req.timeseries()) {
          for (const auto& s : ts.samples()) {
            accepted_.push_back({WireLabels(ts), s.timestamp(), s.value()});
          }
        }
      } else {
        r.set_content(refusal_body_, "text/plain");
      }
    });
    port_ = server_.Start();
  }

  // Statuses for the next requests, in order; with repeat_last the last one stays for ever.
  void Script(std::deque<int> statuses, bool repeat_last = false) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_ = std::move(statuses);
    repeat_last_ = repeat_last;
  }
  // What a refusal's body says (default "refused by the test receiver").
  void SetRefusalBody(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    refusal_body_ = std::move(body);
  }
  std::string Url() const { return server_.Url("/write"); }
  std::vector<ReceivedSample> accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t samples_in_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_in_requests_;
  }
  // Samples (series and timestamp) that came in more than one request, whatever the answer.
  size_t duplicate_samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return duplicates_;
  }
  bool headers_ok() {
    std::lock_guard<std::mutex> lock(mu_);
    return headers_ok_ && bad_bodies_ == 0;
  }
  std::string header(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = last_headers_.find(name);
    return it == last_headers_.end() ? "" : it->second;
  }
  void Stop() { server_.Stop(); }

 private:
  TestHttpServer server_;
  int port_ = 0;
  std::string refusal_body_ = "refused by the test receiver";
  std::mutex mu_;
  std::deque<int> statuses_;
  bool repeat_last_ = false;
  int requests_ = 0;
  size_t samples_in_requests_ = 0;
  int bad_bodies_ = 0;
  bool headers_ok_ = true;
  httplib::Headers last_headers_;
  std::vector<ReceivedSample> accepted_;
  std::set<std::pair<std::string, int64_t>> seen_;
  size_t duplicates_ = 0;
};

}  // namespace obsmon::testing
