// Plain C++ snapshots of libvirt data. Collected on pool threads (no N-API there), converted to JS
// on the main thread. 64-bit counters become BigInt so values above 2^53 stay exact.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <string>
#include <vector>

namespace lv {

struct Param {
  std::string key;
  int type = 0;  // virTypedParameterType
  long long i64 = 0;
  unsigned long long u64 = 0;
  double d = 0;
  std::string s;
};
using Params = std::vector<Param>;

void CopyTypedParams(const virTypedParameter* params, int n, Params& out);
Napi::Object ParamsToJs(Napi::Env env, const Params& params);

struct DomainSummary {
  std::string uuid, name;
  int id = -1;
  int state = 0, reason = 0;
  bool active = false, persistent = false;
  unsigned long maxMemKiB = 0, memoryKiB = 0;
  unsigned int nrVirtCpu = 0;
  unsigned long long cpuTime = 0;
};
// GetInfo + GetState (+ cheap local getters): one listDomains row or a getDomainInfo result.
bool CollectSummary(virDomainPtr dom, DomainSummary& out);
Napi::Object SummaryToJs(Napi::Env env, const DomainSummary& s);
const char* StateName(int state);

struct VcpuData {
  int current = -1, maximum = -1;
  std::vector<virVcpuInfo> vcpus;
};
bool CollectVcpus(virDomainPtr dom, unsigned int nrVirtCpu, VcpuData& out);
Napi::Object VcpusToJs(Napi::Env env, const VcpuData& v);

// Host-wide totals of virDomainGetCPUStats (cpu_time, user_time, system_time).
bool CollectCpuTotals(virDomainPtr dom, Params& out);

using MemStats = std::vector<virDomainMemoryStatStruct>;
bool CollectMemoryStats(virDomainPtr dom, MemStats& out);
Napi::Object MemStatsToJs(Napi::Env env, const MemStats& m);

Napi::Object BlockStatsToJs(Napi::Env env, const virDomainBlockStatsStruct& b);
Napi::Object InterfaceStatsToJs(Napi::Env env, const virDomainInterfaceStatsStruct& n);

}  // namespace lv
