// Asking a ConfigNode for keys it does not have allocates nothing in the YAML document. yaml-cpp's
// non-const operator[] adds each missing key to the document (two nodes, several allocations),
// and the loader asks every probe for every optional key: 1,000 probes made 210,000 nodes, 12 MB
// that stayed resident after loading as holes in the heap (issue 17, item 1). This binary counts
// every operator new (its own replacement, so the count is the C++ runtime's, not ours).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "core/config_node.h"

namespace {
std::atomic<long> g_news{0};
}  // namespace

void* operator new(size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace obsmon {
namespace {

TEST(ConfigNodeMemoryTest, LookingUpMissingKeysAddsNothingToTheDocument) {
  ConfigErrors errors;
  ConfigNode node(YAML::Load("{name: t0, kind: http, url: 'http://x/', interval: 1s}"), "f.yml",
                  &errors);
  // Short keys: std::string keeps them inline, so the lookups themselves allocate nothing.
  std::string keys[2000];
  for (int i = 0; i < 2000; ++i) keys[i] = "k" + std::to_string(i);
  const long before = g_news.load();
  for (const std::string& key : keys) {
    EXPECT_FALSE(node.String(key).has_value());
    EXPECT_FALSE(node.Int(key).has_value());
  }
  const long allocations = g_news.load() - before;
  // What is left is ConfigNode's own list of the keys asked for (its vector doubling: ~13).
  EXPECT_LT(allocations, 100) << "2,000 missing keys allocated " << allocations << " times";
  EXPECT_EQ(node.String("kind"), "http");
  EXPECT_TRUE(errors.empty());
}

}  // namespace
}  // namespace obsmon
