// The machine's memory, for bounds that keep a setting from taking all of it.
#pragma once
#include <cstdint>

namespace instret {

// Physical memory in bytes (sysconf); 0 when the system does not say.
uint64_t physical_memory_bytes();

}  // namespace instret
