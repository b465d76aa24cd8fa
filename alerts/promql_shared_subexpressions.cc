#include "alerts/promql_shared_subexpressions.h"

#include <algorithm>
#include <cstring>

namespace obsmon::alerts::promql {

namespace {

// An exact, injective description of one node given its children's ids: every field the
// evaluator reads, numbers by their bits (ToString prints 6 digits, so `x > 97.5` and
// `x > 97.500001` would look alike), strings length-prefixed.
class KeyInterner {
 public:
  int Intern(const Expr& e) {
    std::vector<int> children;
    children.reserve(e.args.size());
    for (const auto& a : e.args) children.push_back(Intern(*a));
    std::string key;
    Put(key, static_cast<int64_t>(e.kind));
    uint64_t bits;
    std::memcpy(&bits, &e.number, sizeof bits);
    Put(key, static_cast<int64_t>(bits));
    Put(key, e.str);
    Put(key, e.metric);
    Put(key, static_cast<int64_t>(e.matchers.size()));
    for (const auto& m : e.matchers) {
      Put(key, static_cast<int64_t>(m.op));
      Put(key, m.name);
      Put(key, m.value);
    }
    Put(key, e.offset_ms);
    Put(key, e.range_ms);
    Put(key, static_cast<int64_t>(e.op));
    Put(key, (e.return_bool ? 1 : 0) | (e.has_matching ? 2 : 0) | (e.on ? 4 : 0) |
                 (e.without ? 8 : 0));
    PutList(key, e.matching_labels);
    Put(key, static_cast<int64_t>(e.agg));
    PutList(key, e.grouping);
    for (int c : children) Put(key, c);
    auto [it, inserted] = ids_.emplace(std::move(key), static_cast<int>(ids_.size()));
    const int id = it->second;
    nodes_.emplace_back(&e, id);
    if (static_cast<size_t>(id) >= counts_.size()) counts_.resize(id + 1);
    ++counts_[id];
    return id;
  }
  const std::vector<std::pair<const Expr*, int>>& nodes() const { return nodes_; }
  int count(int id) const { return counts_[id]; }

 private:
  static void Put(std::string& key, int64_t v) {
    key.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  static void Put(std::string& key, const std::string& s) {
    Put(key, static_cast<int64_t>(s.size()));
    key += s;
  }
  static void PutList(std::string& key, const std::vector<std::string>& list) {
    Put(key, static_cast<int64_t>(list.size()));
    for (const auto& s : list) Put(key, s);
  }

  std::unordered_map<std::string, int> ids_;
  std::vector<int> counts_;
  std::vector<std::pair<const Expr*, int>> nodes_;
};

bool WorthKeeping(const Expr& e) {
  switch (e.kind) {
    case NodeKind::kBinary:
    case NodeKind::kAggregate:
    case NodeKind::kCall:
    case NodeKind::kUnaryMinus:
      return true;
    default:
      return false;
  }
}

// The metric names the selectors under `e` read; false when one has no exact name.
bool CollectReads(const Expr& e, std::vector<std::string>* names) {
  bool exact = true;
  if (e.kind == NodeKind::kVectorSelector || e.kind == NodeKind::kMatrixSelector) {
    const Matcher* name_eq = nullptr;
    for (const auto& m : e.matchers) {
      if (m.name == "__name__" && m.op == Matcher::Op::kEq) name_eq = &m;
    }
    if (name_eq) {
      names->push_back(name_eq->value);
    } else {
      exact = false;
    }
  }
  for (const auto& a : e.args) exact = CollectReads(*a, names) && exact;
  return exact;
}

size_t SamplesOf(const Result<Value>& v) {
  if (!v.ok()) return 1;
  size_t n = 1 + v->vector.size();
  for (const auto& s : v->matrix) n += 1 + s.points.size();
  return n;
}

}  // namespace

SharedSubexpressions::SharedSubexpressions(const std::vector<const Expr*>& roots) {
  KeyInterner interner;
  for (const Expr* r : roots) {
    if (r) interner.Intern(*r);
  }
  std::unordered_map<int, int> slot_of_id;
  for (const auto& [node, id] : interner.nodes()) {
    if (interner.count(id) < 2 || !WorthKeeping(*node)) continue;
    auto [it, inserted] = slot_of_id.emplace(id, static_cast<int>(slots_.size()));
    if (inserted) {
      Slot s;
      s.reads_any = !CollectReads(*node, &s.reads);
      std::sort(s.reads.begin(), s.reads.end());
      s.reads.erase(std::unique(s.reads.begin(), s.reads.end()), s.reads.end());
      const int slot = it->second;
      if (s.reads_any) any_readers_.push_back(slot);
      for (const auto& n : s.reads) readers_[n].push_back(slot);
      slots_.push_back(std::move(s));
    }
    slot_of_[node] = it->second;
  }
}

int SharedSubexpressions::SlotOf(const Expr& node) const {
  auto it = slot_of_.find(&node);
  return it == slot_of_.end() ? -1 : it->second;
}

void SharedSubexpressions::StartInstant(int64_t ts_ms) {
  if (ts_ms == ts_ms_) return;
  Forget();
  ts_ms_ = ts_ms;
}

void SharedSubexpressions::Drop(Slot& s) {
  if (!s.value) return;
  kept_samples_ -= s.samples;
  s.value.reset();
  s.samples = 0;
}

const Result<Value>* SharedSubexpressions::Find(const Expr& node, int64_t ts_ms) {
  const int slot = SlotOf(node);
  if (slot < 0) return nullptr;
  StartInstant(ts_ms);
  Slot& s = slots_[static_cast<size_t>(slot)];
  if (!s.value) return nullptr;
  ++hits_;
  return &*s.value;
}

void SharedSubexpressions::Keep(const Expr& node, int64_t ts_ms, const Result<Value>& value) {
  const int slot = SlotOf(node);
  if (slot < 0) return;
  StartInstant(ts_ms);
  Slot& s = slots_[static_cast<size_t>(slot)];
  const size_t samples = SamplesOf(value);
  if (s.value || kept_samples_ + samples > kMaxKeptSamples) return;
  s.value = value;
  s.samples = samples;
  kept_samples_ += samples;
}

void SharedSubexpressions::Forget() {
  for (auto& s : slots_) Drop(s);
  ts_ms_ = INT64_MIN;
}

void SharedSubexpressions::Written(const std::string& metric) {
  if (kept_samples_ == 0) return;
  if (metric.empty()) {
    for (auto& s : slots_) Drop(s);
    return;
  }
  for (int slot : any_readers_) Drop(slots_[static_cast<size_t>(slot)]);
  if (auto it = readers_.find(metric); it != readers_.end()) {
    for (int slot : it->second) Drop(slots_[static_cast<size_t>(slot)]);
  }
}

}  // namespace obsmon::alerts::promql
