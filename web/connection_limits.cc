#include "web/connection_limits.h"

namespace obsmon {

ConnectionLimits::Verdict ConnectionLimits::Check(const std::string& client) const {
  MutexLock lock(mu_);
  auto it = by_client_.find(client);
  if (it != by_client_.end() && it->second >= per_client_) return Verdict::kOverClient;
  if (open_ >= total_) return Verdict::kOverTotal;
  return Verdict::kAdmit;
}

ConnectionLimits::Verdict ConnectionLimits::TryAdd(const std::string& client) {
  MutexLock lock(mu_);
  if (open_ >= total_) return Verdict::kOverTotal;
  auto it = by_client_.find(client);
  if (it != by_client_.end() && it->second >= per_client_) return Verdict::kOverClient;
  ++open_;
  ++by_client_[client];
  return Verdict::kAdmit;
}

void ConnectionLimits::Add(const std::string& client) {
  MutexLock lock(mu_);
  ++open_;
  ++by_client_[client];
}

void ConnectionLimits::Remove(const std::string& client) {
  MutexLock lock(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;  // never added: nothing to give back
  --open_;
  if (--it->second == 0) by_client_.erase(it);
}

size_t ConnectionLimits::open() const {
  MutexLock lock(mu_);
  return open_;
}

size_t ConnectionLimits::OpenBy(const std::string& client) const {
  MutexLock lock(mu_);
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : it->second;
}

}  // namespace obsmon
