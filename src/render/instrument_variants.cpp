#include "instret/render/instrument_variants.h"

#include <cmath>
#include <cstdio>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/hash.h"
#include "instret/core/stable_rng.h"

namespace instret {
namespace {

// Draws of a recipe before giving up on one that changes something: with the default ranges and
// probability 0.5, one draw in 2^14 changes nothing.
constexpr int kMaxDraws = 1000;

}  // namespace

const std::vector<VariantParameter>& variant_parameters() {
  // Default ranges start where a change is audible on most presets (a cutoff a whole octave down, an
  // attack of 8 ms or more on a preset whose own is 1 ms), and stop before the instrument stops being
  // one (a pad-like attack, a cutoff that leaves only a hum).
  using R = VariantRecipe;
  static const std::vector<VariantParameter> list = {
      {"filter_cutoff_cents", -4800, -1200, -9600, 2400, "cents", 1, 0, &R::filter_cutoff_cents},
      {"filter_q_cb", 30, 180, 0, 400, "centibels", 1, 0, &R::filter_q_cb},
      {"attack_timecents", 3600, 8400, -2400, 9600, "timecents", 1, 0, &R::attack_timecents},
      {"decay_timecents", -2400, 2400, -4800, 4800, "timecents", 1, 0, &R::decay_timecents},
      {"sustain_cb", 60, 400, 0, 960, "centibels", 1, 0, &R::sustain_cb},
      {"release_timecents", -1200, 3600, -4800, 4800, "timecents", 1, 0, &R::release_timecents},
      {"vibrato_cents", 10, 50, 0, 200, "cents", 1, 0, &R::vibrato_cents},
      {"unison_cents", 6, 20, 0, 100, "cents", 1, 0, &R::unison_cents},
      {"formant_semitones", -4, 4, -12, 12, "semitones", 1, 0, &R::formant_semitones},
      {"start_offset_samples", 500, 4000, 0, 32767, "samples", 1, 0, &R::start_offset_samples},
      {"velocity_gamma", 0.4, 2.5, 0.1, 10, "exponent", 100, 1, &R::velocity_gamma},
      {"eq_tilt_db", -12, 12, -24, 24, "dB", 10, 0, &R::eq_tilt_db},
      {"reverb", 40, 127, 0, 127, "MIDI CC 91", 1, 0, &R::reverb},
      {"chorus", 40, 127, 0, 127, "MIDI CC 93", 1, 0, &R::chorus},
  };
  return list;
}

Json VariantSpec::defaults() {
  Json ranges = Json::object();
  for (const VariantParameter& p : variant_parameters()) ranges[p.name] = Json::array({p.lo, p.hi});
  return Json{{"count", 0}, {"seed", 0}, {"probability", 0.5}, {"ranges", ranges}};
}

VariantSpec VariantSpec::from_json(const Json& j) {
  if (!j.is_null() && !j.is_object()) throw UsageError("banks[].variants must be an object, not " + j.dump());
  const Json c = merge_config(defaults(), j.is_null() ? Json::object() : j, "banks[].variants");
  VariantSpec s;
  try {
    s.count = config_get<int>(c, "count");
  } catch (const UsageError& e) {
    throw UsageError(std::string("banks[].variants: ") + e.what());
  }
  if (s.count < 0 || s.count > kMaxVariants)
    throw UsageError("banks[].variants.count must be in 0.." + std::to_string(kMaxVariants) + ", not " +
                     c["count"].dump());
  if (const Json& seed = c.at("seed"); !seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
    throw UsageError("banks[].variants.seed must be an integer in 0..2^64-1, not " + seed.dump());
  s.seed = c["seed"].get<uint64_t>();
  s.probability = config_get<double>(c, "probability");
  if (!(s.probability > 0.0 && s.probability <= 1.0))
    throw UsageError("banks[].variants.probability must be in (0, 1], not " + c["probability"].dump());
  for (const VariantParameter& p : variant_parameters()) {
    const Json& r = c["ranges"][p.name];
    const std::string key = std::string("banks[].variants.ranges.") + p.name;
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number())
      throw UsageError(key + " must be [lo, hi], not " + r.dump());
    const double lo = r[0].get<double>(), hi = r[1].get<double>();
    if (!(lo <= hi && lo >= p.min && hi <= p.max))
      throw UsageError(key + " must satisfy " + std::to_string(p.min) + " <= lo <= hi <= " + std::to_string(p.max) +
                       " (" + p.unit + "), not " + r.dump());
    if (std::string(p.name) == "velocity_gamma" && !(lo > 0.0))
      throw UsageError(key + " must be > 0");
    s.ranges[p.name] = {lo, hi};
  }
  return s;
}

Json VariantSpec::to_json() const {
  Json ranges = Json::object();
  for (const auto& [name, r] : this->ranges) ranges[name] = Json::array({r.first, r.second});
  return Json{{"count", count}, {"seed", seed}, {"probability", probability}, {"ranges", ranges}};
}

bool VariantRecipe::changes_nothing() const { return to_json().empty(); }

Json VariantRecipe::to_json() const {
  Json j = Json::object();
  for (const VariantParameter& p : variant_parameters()) {
    const double v = this->*p.field;
    if (v == p.neutral) continue;
    if (p.scale == 1.0) j[p.name] = int64_t(std::llround(v));
    else j[p.name] = v;
  }
  return j;
}

VariantRecipe VariantRecipe::from_json(const Json& j) {
  VariantRecipe r;
  for (const VariantParameter& p : variant_parameters())
    if (j.contains(p.name)) r.*p.field = j[p.name].get<double>();
  return r;
}

std::string variant_id(const std::string& base_id, int k) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "_v%02d", k);
  return base_id + buf;
}

VariantRecipe draw_variant(const VariantSpec& spec, const std::string& base_id, int k) {
  StableRng rng(splitmix64(splitmix64(spec.seed) ^ fnv1a("variant/" + variant_id(base_id, k))));
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    VariantRecipe r;
    for (const VariantParameter& p : variant_parameters()) {
      // Both draws are made for every parameter, so one parameter's range never shifts another's value.
      const bool change = rng.uniform() < spec.probability;
      const double u = rng.uniform();
      if (!change) continue;
      const auto [lo, hi] = spec.ranges.at(p.name);
      const double v = std::string(p.name) == "velocity_gamma" ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)))
                                                               : lo + u * (hi - lo);
      r.*p.field = std::round(v * p.scale) / p.scale;
    }
    if (!r.changes_nothing()) return r;
  }
  throw UsageError("banks[].variants: " + std::to_string(kMaxDraws) + " draws for " + variant_id(base_id, k) +
                   " changed nothing: widen the ranges (some round to no change) or raise the probability");
}

void apply_eq_tilt(float* x, int64_t n, double db) {
  if (db == 0.0 || n <= 0) return;
  const double pi = 3.14159265358979323846;
  const double A = std::pow(10.0, db / 40.0), w0 = 2.0 * pi * 1000.0 / kSampleRate;
  const double cw = std::cos(w0), alpha = std::sin(w0) / 2.0 * std::sqrt(2.0), sa = 2.0 * std::sqrt(A) * alpha;
  const double b0 = A * ((A + 1) + (A - 1) * cw + sa), b1 = -2 * A * ((A - 1) + (A + 1) * cw),
               b2 = A * ((A + 1) + (A - 1) * cw - sa);
  const double a0 = (A + 1) - (A - 1) * cw + sa, a1 = 2 * ((A - 1) - (A + 1) * cw), a2 = (A + 1) - (A - 1) * cw - sa;
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double in = x[i];
    const double y = (b0 * in + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1;
    x1 = in;
    y2 = y1;
    y1 = y;
    x[i] = float(y);
  }
}

}  // namespace instret
