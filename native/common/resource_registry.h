// ResourceRegistry: the live native resources of one JS environment (main thread or a
// worker), so environment teardown can close whatever JS never closed. Shared between
// the Addon (which closes everything when the environment goes away) and every wrap
// (which removes itself when closed or collected), so either may go first.
#pragma once
#include <memory>
#include <unordered_set>
#include <vector>

namespace crdma {

class TeardownCloseable {
 public:
  virtual ~TeardownCloseable() = default;
  // Frees native resources; must not touch JS (the environment is going away).
  virtual void CloseForTeardown() = 0;
};

class ResourceRegistry {
 public:
  void Add(TeardownCloseable* r) { live_.insert(r); }
  void Remove(TeardownCloseable* r) { live_.erase(r); }
  size_t size() const { return live_.size(); }
  void CloseAll() {
    std::vector<TeardownCloseable*> all(live_.begin(), live_.end());
    live_.clear();
    for (TeardownCloseable* r : all) r->CloseForTeardown();
  }

 private:
  std::unordered_set<TeardownCloseable*> live_;
};

}  // namespace crdma
