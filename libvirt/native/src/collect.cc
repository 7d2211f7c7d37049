#include "collect.h"
#include <libvirt/virterror.h>
#include <cstring>
#include <memory>

namespace lv {

void CopyTypedParams(const virTypedParameter* params, int n, Params& out) {
  out.reserve(out.size() + static_cast<size_t>(n));
  for (int i = 0; i < n; i++) {
    const virTypedParameter& p = params[i];
    Param q;
    q.key = p.field;
    q.type = p.type;
    switch (p.type) {
      case VIR_TYPED_PARAM_INT: q.i64 = p.value.i; break;
      case VIR_TYPED_PARAM_UINT: q.u64 = p.value.ui; break;
      case VIR_TYPED_PARAM_LLONG: q.i64 = p.value.l; break;
      case VIR_TYPED_PARAM_ULLONG: q.u64 = p.value.ul; break;
      case VIR_TYPED_PARAM_DOUBLE: q.d = p.value.d; break;
      case VIR_TYPED_PARAM_BOOLEAN: q.i64 = p.value.b ? 1 : 0; break;
      case VIR_TYPED_PARAM_STRING: q.s = p.value.s != nullptr ? p.value.s : ""; break;
      default: continue;  // unknown future type: skip rather than guess
    }
    out.push_back(std::move(q));
  }
}

Napi::Object ParamsToJs(Napi::Env env, const Params& params) {
  Napi::Object o = Napi::Object::New(env);
  for (const Param& p : params) {
    switch (p.type) {
      case VIR_TYPED_PARAM_INT: o.Set(p.key, Napi::Number::New(env, static_cast<double>(p.i64))); break;
      case VIR_TYPED_PARAM_UINT: o.Set(p.key, Napi::Number::New(env, static_cast<double>(p.u64))); break;
      case VIR_TYPED_PARAM_LLONG: o.Set(p.key, Napi::BigInt::New(env, static_cast<int64_t>(p.i64))); break;
      case VIR_TYPED_PARAM_ULLONG: o.Set(p.key, Napi::BigInt::New(env, static_cast<uint64_t>(p.u64))); break;
      case VIR_TYPED_PARAM_DOUBLE: o.Set(p.key, Napi::Number::New(env, p.d)); break;
      case VIR_TYPED_PARAM_BOOLEAN: o.Set(p.key, Napi::Boolean::New(env, p.i64 != 0)); break;
      case VIR_TYPED_PARAM_STRING: o.Set(p.key, Napi::String::New(env, p.s)); break;
      default: break;
    }
  }
  return o;
}

const char* StateName(int state) {
  switch (state) {
    case VIR_DOMAIN_NOSTATE: return "nostate";
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
  }
}

bool CollectSummary(virDomainPtr dom, DomainSummary& out) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) < 0) return false;
  out.uuid = uuid;
  const char* name = virDomainGetName(dom);
  out.name = name != nullptr ? name : "";
  unsigned int id = virDomainGetID(dom);
  out.id = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int>(id);
  virDomainInfo info;
  if (virDomainGetInfo(dom, &info) < 0) return false;
  out.state = info.state;
  out.maxMemKiB = info.maxMem;
  out.memoryKiB = info.memory;
  out.nrVirtCpu = info.nrVirtCpu;
  out.cpuTime = info.cpuTime;
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) == 0) {
    out.state = state;
    out.reason = reason;
  } else {
    virResetLastError();  // GetInfo already gave the state; the reason is a nicety
  }
  int active = virDomainIsActive(dom);
  out.active = active == 1;
  int persistent = virDomainIsPersistent(dom);
  out.persistent = persistent == 1;
  if (active < 0 || persistent < 0) virResetLastError();
  return true;
}

Napi::Object SummaryToJs(Napi::Env env, const DomainSummary& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("uuid", s.uuid);
  o.Set("name", s.name);
  o.Set("id", Napi::Number::New(env, s.id));
  o.Set("state", Napi::String::New(env, StateName(s.state)));
  o.Set("stateCode", Napi::Number::New(env, s.state));
  o.Set("reason", Napi::Number::New(env, s.reason));
  o.Set("active", Napi::Boolean::New(env, s.active));
  o.Set("persistent", Napi::Boolean::New(env, s.persistent));
  o.Set("maxMemKiB", Napi::Number::New(env, static_cast<double>(s.maxMemKiB)));
  o.Set("memoryKiB", Napi::Number::New(env, static_cast<double>(s.memoryKiB)));
  o.Set("vcpus", Napi::Number::New(env, s.nrVirtCpu));
  o.Set("cpuTime", Napi::BigInt::New(env, static_cast<uint64_t>(s.cpuTime)));
  return o;
}

bool CollectVcpus(virDomainPtr dom, unsigned int nrVirtCpu, VcpuData& out) {
  out.current = static_cast<int>(nrVirtCpu);
  int max = virDomainGetMaxVcpus(dom);
  if (max < 0) virResetLastError();  // optional: only vcpu.maximum is lost
  out.maximum = max;
  if (nrVirtCpu == 0) return true;
  out.vcpus.resize(nrVirtCpu);
  int n = virDomainGetVcpus(dom, out.vcpus.data(), static_cast<int>(nrVirtCpu), nullptr, 0);
  if (n < 0) {
    out.vcpus.clear();
    return false;
  }
  out.vcpus.resize(static_cast<size_t>(n));
  return true;
}

Napi::Object VcpusToJs(Napi::Env env, const VcpuData& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("current", Napi::Number::New(env, v.current));
  o.Set("maximum", Napi::Number::New(env, v.maximum));
  Napi::Array arr = Napi::Array::New(env, v.vcpus.size());
  for (size_t i = 0; i < v.vcpus.size(); i++) {
    const virVcpuInfo& c = v.vcpus[i];
    Napi::Object e = Napi::Object::New(env);
    e.Set("number", Napi::Number::New(env, c.number));
    e.Set("state", Napi::Number::New(env, c.state));
    e.Set("cpuTime", Napi::BigInt::New(env, static_cast<uint64_t>(c.cpuTime)));
    e.Set("cpu", Napi::Number::New(env, c.cpu));
    arr.Set(static_cast<uint32_t>(i), e);
  }
  o.Set("vcpus", arr);
  return o;
}

bool CollectCpuTotals(virDomainPtr dom, Params& out) {
  int n = virDomainGetCPUStats(dom, nullptr, 0, -1, 1, 0);  // how many total params
  if (n < 0) return false;
  if (n == 0) return true;
  std::unique_ptr<virTypedParameter[]> params(new virTypedParameter[n]);
  std::memset(params.get(), 0, sizeof(virTypedParameter) * static_cast<size_t>(n));
  int got = virDomainGetCPUStats(dom, params.get(), static_cast<unsigned int>(n), -1, 1, 0);
  if (got < 0) return false;
  CopyTypedParams(params.get(), got, out);
  virTypedParamsClear(params.get(), got);
  return true;
}

static const char* const kMemStatNames[] = {
    "swap_in", "swap_out", "major_fault", "minor_fault", "unused", "available", "actual",
    "rss", "usable", "last_update", "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail"};
static const int kMemStatCount = sizeof(kMemStatNames) / sizeof(kMemStatNames[0]);

bool CollectMemoryStats(virDomainPtr dom, MemStats& out) {
  out.resize(VIR_DOMAIN_MEMORY_STAT_NR);
  int n = virDomainMemoryStats(dom, out.data(), VIR_DOMAIN_MEMORY_STAT_NR, 0);
  if (n < 0) {
    out.clear();
    return false;
  }
  out.resize(static_cast<size_t>(n));
  return true;
}

Napi::Object MemStatsToJs(Napi::Env env, const MemStats& m) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& s : m) {
    if (s.tag < 0 || s.tag >= kMemStatCount) continue;
    o.Set(kMemStatNames[s.tag], Napi::BigInt::New(env, static_cast<uint64_t>(s.val)));
  }
  return o;
}

namespace {

// One counter of a libvirt stats struct: its JS name and where it lives in the struct.
template <typename Struct>
struct Counter {
  const char* name;
  long long Struct::*field;
};

const Counter<virDomainBlockStatsStruct> kBlockCounters[] = {
    {"rdReq", &virDomainBlockStatsStruct::rd_req},   {"rdBytes", &virDomainBlockStatsStruct::rd_bytes},
    {"wrReq", &virDomainBlockStatsStruct::wr_req},   {"wrBytes", &virDomainBlockStatsStruct::wr_bytes},
    {"errs", &virDomainBlockStatsStruct::errs},
};

const Counter<virDomainInterfaceStatsStruct> kInterfaceCounters[] = {
    {"rxBytes", &virDomainInterfaceStatsStruct::rx_bytes}, {"rxPackets", &virDomainInterfaceStatsStruct::rx_packets},
    {"rxErrs", &virDomainInterfaceStatsStruct::rx_errs},   {"rxDrop", &virDomainInterfaceStatsStruct::rx_drop},
    {"txBytes", &virDomainInterfaceStatsStruct::tx_bytes}, {"txPackets", &virDomainInterfaceStatsStruct::tx_packets},
    {"txErrs", &virDomainInterfaceStatsStruct::tx_errs},   {"txDrop", &virDomainInterfaceStatsStruct::tx_drop},
};

// libvirt reports -1 for a counter the driver does not support; keep it (BigInt -1n) for the
// TS layer to drop, so "unsupported" and "zero" stay distinguishable.
template <typename Struct, size_t N>
Napi::Object CountersToJs(Napi::Env env, const Struct& s, const Counter<Struct> (&counters)[N]) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& c : counters) o.Set(c.name, Napi::BigInt::New(env, static_cast<int64_t>(s.*c.field)));
  return o;
}

}  // namespace

Napi::Object BlockStatsToJs(Napi::Env env, const virDomainBlockStatsStruct& b) { return CountersToJs(env, b, kBlockCounters); }

Napi::Object InterfaceStatsToJs(Napi::Env env, const virDomainInterfaceStatsStruct& n) { return CountersToJs(env, n, kInterfaceCounters); }

}  // namespace lv
