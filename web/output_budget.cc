#include "web/output_budget.h"

#include <algorithm>

namespace obsmon {

bool OutputBudget::Take(const std::string& client, size_t bytes) {
  if (bytes == 0) return true;
  MutexLock lock(mu_);
  if (bytes > total_ - std::min(total_, held_)) return false;
  auto it = by_client_.find(client);
  const size_t mine = it == by_client_.end() ? 0 : it->second;
  if (bytes > per_client_ - std::min(per_client_, mine)) return false;
  held_ += bytes;
  by_client_[client] = mine + bytes;
  return true;
}

void OutputBudget::Give(const std::string& client, size_t bytes) {
  if (bytes == 0) return;
  MutexLock lock(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;  // never taken: nothing to give back
  const size_t back = std::min(bytes, it->second);
  held_ -= back;
  it->second -= back;
  if (it->second == 0) by_client_.erase(it);
}

size_t OutputBudget::held() const {
  MutexLock lock(mu_);
  return held_;
}

size_t OutputBudget::HeldFor(const std::string& client) const {
  MutexLock lock(mu_);
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : it->second;
}

}  // namespace obsmon
