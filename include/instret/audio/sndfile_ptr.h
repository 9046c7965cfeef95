// An open libsndfile handle that closes itself (sf_close) when it goes out of scope.
#pragma once
#include <sndfile.h>

#include <memory>

namespace instret {

struct SndFileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndFilePtr = std::unique_ptr<SNDFILE, SndFileCloser>;

}  // namespace instret
