#include "instret/models/torch_state_dict.h"

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "instret/core/error.h"
#include "instret/core/zip.h"

namespace instret {

namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kTensor, kMark };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string value, or "module.name" of a global
  std::vector<ValuePtr> items;
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;
  // Dict position of each string key; allocated by the first SETITEM (most values are no dicts).
  std::unique_ptr<std::unordered_map<std::string, size_t>> string_keys;
  torch::Tensor tensor;

  Value() = default;
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  // Iterative: a hostile pickle can nest containers millions deep (one TUPLE1 byte per level), and
  // the default recursive destruction would overflow the stack.
  ~Value() {
    std::vector<ValuePtr> work;
    auto take_children = [&work](Value& v) {
      for (auto& x : v.items) work.push_back(std::move(x));
      for (auto& [k, x] : v.dict) {
        work.push_back(std::move(k));
        work.push_back(std::move(x));
      }
      std::vector<ValuePtr>().swap(v.items);  // frees the buffers too, not only the elements
      std::vector<std::pair<ValuePtr, ValuePtr>>().swap(v.dict);
    };
    take_children(*this);
    while (!work.empty()) {
      ValuePtr v = std::move(work.back());
      work.pop_back();
      if (v && v.use_count() == 1) take_children(*v);
    }
  }
};


torch::ScalarType storage_dtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.HalfStorage", torch::kFloat16},  {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},    {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},   {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},    {"torch.BoolStorage", torch::kBool}};
  auto it = types.find(global);
  if (it == types.end()) throw FormatError("unsupported storage type " + global);
  return it->second;
}

std::vector<int64_t> int_tuple(const ValuePtr& v) {
  if (v->kind != Value::Kind::kTuple) throw FormatError("expected a tuple of integers");
  std::vector<int64_t> out;
  for (const auto& x : v->items) {
    if (x->kind != Value::Kind::kInt) throw FormatError("expected a tuple of integers");
    out.push_back(x->i);
  }
  return out;
}

class Unpickler {
 public:
  // The interpreter's memory is bounded by the file it came from: every object, string, stack slot,
  // container entry, memo entry and tensor is charged what it allocates (generously), and the total
  // may not pass 32 MiB plus the file's size. A real state_dict's pickle is a small part of its file
  // (the tensors are the rest; ref_han_cnn.pt is charged 1.3% of its budget), so this never binds on
  // one; a pickle-only file whose every byte makes an object or a memo entry is refused.
  Unpickler(const std::string& data, const ZipFile& zip, const std::string& prefix)
      : data_(data), zip_(zip), prefix_(prefix), budget_(kBudgetFloor + zip.file_size()) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // Breaks the reference cycles a hostile pickle can make among its values (a list that holds
  // itself), which shared pointers alone would leak.
  ~Unpickler() {
    for (const auto& w : made_)
      if (const ValuePtr v = w.lock()) {
        std::vector<ValuePtr>().swap(v->items);
        std::vector<std::pair<ValuePtr, ValuePtr>>().swap(v->dict);
        v->string_keys.reset();
      }
  }

  ValuePtr run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                                        // PROTO
        case 0x95: bytes(8); break;                                      // FRAME
        case '.': return pop();                                          // STOP
        case '}': push(make(Value::Kind::kDict)); break;                 // EMPTY_DICT
        case ']': push(make(Value::Kind::kList)); break;                 // EMPTY_LIST
        case ')': push(make(Value::Kind::kTuple)); break;                // EMPTY_TUPLE
        case '(':                                                        // MARK
          charge(sizeof(size_t));
          marks_.push_back(stack_.size());
          break;
        case 'N': push(make(Value::Kind::kNone)); break;                 // NONE
        case 0x88: push_bool(true); break;                               // NEWTRUE
        case 0x89: push_bool(false); break;                              // NEWFALSE
        case 'q': memoize(byte(), top()); break;                         // BINPUT
        case 'r': memoize(u32(), top()); break;                          // LONG_BINPUT
        case 0x94: memoize(uint32_t(memo_.size()), top()); break;       // MEMOIZE
        case 'h': push(memo(byte())); break;                             // BINGET
        case 'j': push(memo(u32())); break;                              // LONG_BINGET
        case 'K': push_int(byte()); break;                               // BININT1
        case 'M': push_int(u16()); break;                                // BININT2
        case 'J': push_int(static_cast<int32_t>(u32())); break;          // BININT
        case 0x8a: push_int(long1()); break;                             // LONG1
        case 'G': push_float(); break;                                   // BINFLOAT
        case 'X': push_string(bytes(u32())); break;                      // BINUNICODE
        case 0x8c: push_string(bytes(byte())); break;                    // SHORT_BINUNICODE
        case 'T': push_string(bytes(u32())); break;                      // BINSTRING
        case 'U': push_string(bytes(byte())); break;                     // SHORT_BINSTRING
        case 'c': {                                                      // GLOBAL
          auto g = make(Value::Kind::kGlobal);
          const std::string module = line();
          g->s = module + "." + line();
          charge(g->s.size());
          push(g);
          break;
        }
        case 't': push(tuple(pop_mark())); break;                        // TUPLE
        case 0x85: push(tuple(pop_n(1))); break;                         // TUPLE1
        case 0x86: push(tuple(pop_n(2))); break;                         // TUPLE2
        case 0x87: push(tuple(pop_n(3))); break;                         // TUPLE3
        case 'a': {                                                      // APPEND
          auto x = pop();
          charge(kSlotBytes);
          top()->items.push_back(x);
          break;
        }
        case 'e': {                                                      // APPENDS
          auto xs = pop_mark();
          charge(xs.size() * kSlotBytes);
          auto& list = top()->items;
          list.insert(list.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {                                                      // SETITEM
          auto v = pop();
          auto k = pop();
          set_item(top(), k, v);
          break;
        }
        case 'u': {                                                      // SETITEMS
          auto xs = pop_mark();
          if (xs.size() % 2) throw FormatError("odd SETITEMS");
          for (size_t i = 0; i < xs.size(); i += 2) set_item(top(), xs[i], xs[i + 1]);
          break;
        }
        case 'b': pop(); break;                                          // BUILD: object state is not needed
        case 'Q': push(persistent_load(pop())); break;                   // BINPERSID
        case 'R': {                                                      // REDUCE
          auto args = pop();
          auto fn = pop();
          push(reduce(fn, args));
          break;
        }
        default:
          throw FormatError("unsupported pickle opcode 0x" + hex(op) + " at byte " + std::to_string(pos_ - 1));
      }
    }
  }

 private:
  static constexpr size_t kBudgetFloor = size_t(32) << 20;
  // What each piece costs, with allocator overhead: a Value in make_shared's block, a stack or
  // container slot, a dict entry with its key index, a memo entry (hash node and bucket).
  // A stack or list slot is charged 3x its size: a growing vector holds its old and new buffers at once.
  // A tensor (view or storage) costs its TensorImpl and StorageImpl besides the Value; a view also
  // keeps its sizes and strides.
  static constexpr size_t kObjectBytes = sizeof(Value) + 32 + sizeof(std::weak_ptr<Value>),
                          kSlotBytes = 3 * sizeof(ValuePtr), kEntryBytes = 2 * sizeof(ValuePtr) + 64, kMemoBytes = 72,
                          kTensorBytes = 768;
  // torch.save names its storages by small decimal numbers, and no real tensor has more dimensions.
  static constexpr size_t kMaxStorageKey = 64, kMaxTensorDims = 64;

  void charge(size_t bytes) {
    used_ += bytes;
    if (used_ > budget_)
      throw FormatError("the pickle needs more than " + std::to_string(budget_ >> 20) +
                        " MiB to interpret, more than a state_dict in a " + std::to_string(zip_.file_size()) +
                        "-byte file can (a memory bomb?)");
  }
  ValuePtr make(Value::Kind kind) {
    charge(kObjectBytes);
    auto v = std::make_shared<Value>();
    v->kind = kind;
    made_.push_back(v);
    return v;
  }
  void memoize(uint32_t key, ValuePtr v) {
    charge(kMemoBytes);
    memo_[key] = std::move(v);
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }
  uint8_t byte() {
    if (pos_ >= data_.size()) throw FormatError("truncated pickle");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  std::string bytes(size_t n) {
    if (pos_ + n > data_.size()) throw FormatError("truncated pickle");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint32_t u16() {
    uint32_t lo = byte();
    return lo | (uint32_t(byte()) << 8);
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= uint32_t(byte()) << (8 * k);
    return v;
  }
  int64_t long1() {
    const uint8_t n = byte();
    if (n > 8) throw FormatError("integer too large in pickle");
    if (n == 0) return 0;
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(byte()) << (8 * k);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string::npos) throw FormatError("truncated pickle");
    std::string s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  void push(ValuePtr v) {
    charge(kSlotBytes);
    stack_.push_back(std::move(v));
  }
  void push_bool(bool b) {
    auto v = make(Value::Kind::kBool);
    v->i = b;
    push(v);
  }
  void push_int(int64_t i) {
    auto v = make(Value::Kind::kInt);
    v->i = i;
    push(v);
  }
  void push_float() {
    const std::string b = bytes(8);
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(b[k]);  // big-endian
    auto v = make(Value::Kind::kFloat);
    std::memcpy(&v->f, &bits, 8);
    push(v);
  }
  void push_string(std::string s) {
    charge(s.size());
    auto v = make(Value::Kind::kString);
    v->s = std::move(s);
    push(v);
  }
  ValuePtr top() {
    if (stack_.empty()) throw FormatError("pickle stack underflow");
    return stack_.back();
  }
  ValuePtr pop() {
    auto v = top();
    stack_.pop_back();
    return v;
  }
  ValuePtr memo(uint32_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) throw FormatError("pickle memo key " + std::to_string(key) + " missing");
    return it->second;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty() || marks_.back() > stack_.size()) throw FormatError("pickle mark missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> xs(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return xs;
  }
  std::vector<ValuePtr> pop_n(size_t n) {
    if (stack_.size() < n) throw FormatError("pickle stack underflow");
    std::vector<ValuePtr> xs(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    return xs;
  }
  ValuePtr tuple(std::vector<ValuePtr> xs) {
    charge(xs.size() * kSlotBytes);
    auto t = make(Value::Kind::kTuple);
    t->items = std::move(xs);
    return t;
  }
  void set_item(const ValuePtr& d, ValuePtr k, ValuePtr v) {
    if (d->kind != Value::Kind::kDict) throw FormatError("SETITEM on a non-dict");
    charge(kEntryBytes + (k->kind == Value::Kind::kString ? k->s.size() : 0));
    // As a Python dict (and so torch.load): a key set twice keeps its first position and its last value.
    if (k->kind == Value::Kind::kString) {
      if (!d->string_keys) d->string_keys = std::make_unique<std::unordered_map<std::string, size_t>>();
      const auto [it, inserted] = d->string_keys->emplace(k->s, d->dict.size());
      if (!inserted) {
        d->dict[it->second].second = std::move(v);
        return;
      }
    }
    d->dict.emplace_back(std::move(k), std::move(v));
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Value::Kind::kGlobal)
      throw FormatError("unsupported persistent id (not a tensor storage)");
    if (pid->items[2]->kind != Value::Kind::kString || pid->items[2]->s.size() > kMaxStorageKey)
      throw FormatError("storage key is not a short string");
    const std::string key = pid->items[2]->s;
    const int64_t numel = pid->items[4]->i;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const auto dtype = storage_dtype(pid->items[1]->s);
    const std::string record = "data/" + key;
    const ZipEntry* entry = zip_.find(prefix_ + record);
    if (!entry) throw FormatError("storage record " + record + " missing");
    // The size the pickle gives is checked against the record's declared size before anything is
    // allocated; the record is then streamed into the tensor, never past that size.
    size_t expected = 0;
    if (numel < 0 || __builtin_mul_overflow(static_cast<size_t>(numel), c10::elementSize(dtype), &expected) ||
        entry->size != expected)
      throw FormatError("storage record " + record + " has " + std::to_string(entry->size) + " bytes, expected " +
                        std::to_string(expected));
    charge(kTensorBytes + key.size() + kEntryBytes);
    auto v = make(Value::Kind::kTensor);
    v->tensor = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    if (expected) zip_.read(*entry, v->tensor.data_ptr());
    storages_[key] = v;
    return v;
  }

  ValuePtr reduce(const ValuePtr& fn, const ValuePtr& args) {
    if (fn->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple)
      throw FormatError("unsupported pickle REDUCE");
    const auto& a = args->items;
    if (fn->s == "collections.OrderedDict") {
      if (!a.empty()) throw FormatError("OrderedDict with constructor arguments");
      return make(Value::Kind::kDict);
    }
    if (fn->s == "torch._utils._rebuild_tensor_v2" || fn->s == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->kind != Value::Kind::kTensor || a[1]->kind != Value::Kind::kInt)
        throw FormatError("malformed _rebuild_tensor arguments");
      const auto& storage = a[0]->tensor;
      const auto size = int_tuple(a[2]);
      const auto stride = int_tuple(a[3]);
      if (size.size() != stride.size() || a[1]->i < 0) throw FormatError("malformed tensor size/stride");
      if (size.size() > kMaxTensorDims) throw FormatError("tensor with more than 64 dimensions");
      charge(kTensorBytes + 2 * sizeof(int64_t) * size.size());
      for (size_t d = 0; d < size.size(); ++d)
        if (size[d] < 0 || stride[d] < 0) throw FormatError("negative tensor size or stride");
      int64_t last = a[1]->i;
      bool empty = false;
      for (size_t d = 0; d < size.size(); ++d) {
        int64_t span = 0;
        if (size[d] == 0)
          empty = true;
        else if (__builtin_mul_overflow(size[d] - 1, stride[d], &span) || __builtin_add_overflow(last, span, &last))
          throw FormatError("tensor size/stride overflow");
      }
      if (!empty && last >= storage.numel()) throw FormatError("tensor exceeds its storage");
      auto v = make(Value::Kind::kTensor);
      // A view of the storage, as torch.load gives: no copy, so a hostile size with zero strides
      // (terabytes of elements over a one-element storage) costs nothing until someone uses it.
      v->tensor = storage.as_strided(size, stride, a[1]->i);
      return v;
    }
    if (fn->s == "torch._utils._rebuild_parameter" || fn->s == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Value::Kind::kTensor) throw FormatError("malformed _rebuild_parameter");
      return a[0];
    }
    throw FormatError("unsupported pickle global " + fn->s);
  }

  const std::string& data_;
  const ZipFile& zip_;
  const std::string& prefix_;  // "archive/": the folder every record of a torch.save file is in
  size_t pos_ = 0;
  const size_t budget_;
  size_t used_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, ValuePtr> memo_;
  std::unordered_map<std::string, ValuePtr> storages_;
  std::vector<std::weak_ptr<Value>> made_;  // every value made, for the destructor

};

bool all_tensors(const ValuePtr& d) {
  if (d->kind != Value::Kind::kDict || d->dict.empty()) return false;
  for (const auto& [k, v] : d->dict)
    if (k->kind != Value::Kind::kString || v->kind != Value::Kind::kTensor) return false;
  return true;
}

}  // namespace

NamedTensors read_torch_state_dict(const std::filesystem::path& path) {
  const std::string name = path.string();
  try {
    // Refuses what is not a regular file and checks the zip magic before reading anything else.
    const ZipFile zip(path);
    if (zip.entries().empty()) throw FormatError("empty zip archive");
    // As PyTorch's reader: every record lives in the folder of the first one ("archive/data.pkl").
    const std::string& first = zip.entries().front().name;
    const auto slash = first.find('/');
    if (slash == std::string::npos || slash == 0) throw FormatError("the zip records are not in a folder");
    const std::string prefix = first.substr(0, slash + 1);
    if (const ZipEntry* order = zip.find(prefix + "byteorder"))
      if (order->size > 16 || zip.read(*order) != "little") throw FormatError("big-endian tensor data is not supported");
    const ZipEntry* pkl = zip.find(prefix + "data.pkl");
    if (!pkl) throw FormatError("no data.pkl record");
    const std::string pickle = zip.read(*pkl);  // bounded: ZipFile refuses records inflating past 8x the file
    // Destroyed after `root` and after the tensors are copied out: its destructor breaks the
    // reference cycles a hostile pickle can make among its values.
    Unpickler unpickler(pickle, zip, prefix);
    ValuePtr root = unpickler.run();
    if (!all_tensors(root) && root->kind == Value::Kind::kDict) {
      for (const char* key : {"state_dict", "model_state_dict", "model"})
        for (const auto& [k, v] : root->dict)
          if (k->kind == Value::Kind::kString && k->s == key && all_tensors(v)) {
            root = v;
            break;
          }
    }
    if (!all_tensors(root)) throw FormatError("the pickle is not a dict of named tensors (a state_dict)");
    NamedTensors out;
    out.reserve(root->dict.size());
    for (const auto& [k, v] : root->dict) out.emplace_back(k->s, v->tensor);
    return out;
  } catch (const FormatError& e) {
    const std::string what = e.what();
    if (what.rfind("not a zip archive", 0) == 0)
      throw FormatError(name + ": not a zip-format torch.save file (legacy PyTorch < 1.6 format or not a "
                               "PyTorch file); re-save it with scripts/convert_reference_weights.py");
    throw FormatError(name + ": " + what);
  } catch (const c10::Error& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw FormatError(name + ": " + msg);
  }
}

}  // namespace instret
