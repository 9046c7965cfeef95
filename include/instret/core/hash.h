// Small, portable, stable hashes: the same values on every platform and build, so seeds and splits
// derived from them are reproducible.
#pragma once
#include <cstdint>
#include <string>

namespace instret {

// 64-bit FNV-1a (its prime, with this project's offset basis 1469598103934665603, not the standard
// 14695981039346656037: values already stored in datasets and files depend on it) of the bytes of `s`.
inline uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// SplitMix64 finaliser: a well-mixed 64-bit value from any 64-bit input.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace instret
