#include "instret/render/instrument_bank.h"

#include "instret/core/error.h"
#include "instret/render/instrument_variants.h"
#include "instret/render/nsynth_bank.h"
#include "instret/render/soundfont_bank.h"

namespace instret {

Json instrument_to_json(const Instrument& i) {
  Json j = {{"id", i.id},     {"name", i.name}, {"family", i.family},   {"source", i.source},
            {"file", i.file}, {"bank", i.bank}, {"program", i.program}};
  if (!i.variant_of.empty()) {
    j["variant_of"] = i.variant_of;
    j["recipe"] = i.recipe;
  }
  return j;
}

std::unique_ptr<InstrumentBank> open_bank(const std::string& type, const std::string& path, const BankFilter& filter,
                                          const VariantSpec* variants) {
  const bool with_variants = variants && variants->count > 0;
  if (type == "soundfont") return std::make_unique<SoundFontBank>(path, filter, with_variants ? *variants : VariantSpec{});
  if (type == "nsynth" && with_variants)
    throw UsageError("banks[].variants: variants are made from SoundFont presets, not from an NSynth bank (" + path + ")");
  if (type == "nsynth") return std::make_unique<NsynthBank>(path, filter);
  throw UsageError("unknown instrument bank type '" + type + "' (expected soundfont or nsynth)");
}

}  // namespace instret
