#include "instret/render/instrument_bank.h"

#include "instret/core/error.h"
#include "instret/render/nsynth_bank.h"
#include "instret/render/soundfont_bank.h"

namespace instret {

Json instrument_to_json(const Instrument& i) {
  return Json{{"id", i.id},     {"name", i.name}, {"family", i.family},   {"source", i.source},
              {"file", i.file}, {"bank", i.bank}, {"program", i.program}};
}

std::unique_ptr<InstrumentBank> open_bank(const std::string& type, const std::string& path, const BankFilter& filter) {
  if (type == "soundfont") return std::make_unique<SoundFontBank>(path, filter);
  if (type == "nsynth") return std::make_unique<NsynthBank>(path, filter);
  throw UsageError("unknown instrument bank type '" + type + "' (expected soundfont or nsynth)");
}

}  // namespace instret
