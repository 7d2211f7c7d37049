#include "connection.h"
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <cstring>
#include <string>
#include <utility>
#include <vector>
#include "collect.h"
#include "errors.h"
#include "worker.h"

namespace lv {

namespace {

struct AddonData {
  Napi::FunctionReference ctor;
};

bool StringArray(const Napi::Value& v, std::vector<std::string>& out) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) return false;
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return true;
}

// ---------------------------------------------------------------- workers

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, std::string uri, bool readOnly)
      : PromiseWorker(env, nullptr), uri_(std::move(uri)), readOnly_(readOnly) {}
  ~OpenWorker() override {
    if (opened_ != nullptr) virConnectClose(opened_);  // only if never handed to JS
  }

 protected:
  bool Run() override {
    opened_ = readOnly_ ? virConnectOpenReadOnly(uri_.c_str()) : virConnectOpen(uri_.c_str());
    if (opened_ == nullptr) return false;
    // Remote URIs: detect a dead peer within ~20 s. Local drivers refuse keepalive; that is fine.
    if (virConnectSetKeepAlive(opened_, 5, 3) < 0) virResetLastError();
    return true;
  }
  Napi::Value Result(Napi::Env env) override {
    auto* data = env.GetInstanceData<AddonData>();
    Napi::Object obj = data->ctor.New({Napi::External<virConnect>::New(env, opened_)});
    opened_ = nullptr;  // owned by the Connection now
    return obj;
  }

 private:
  std::string uri_;
  bool readOnly_;
  virConnectPtr opened_ = nullptr;
};

// Drops the Connection's own reference (after deregistering events).
class CloseWorker : public PromiseWorker {
 public:
  CloseWorker(Napi::Env env, virConnectPtr owned, std::shared_ptr<EventCtx> events, std::shared_ptr<EventCtx> closeEvents)
      : PromiseWorker(env, nullptr), owned_(owned), events_(std::move(events)), closeEvents_(std::move(closeEvents)) {}

 protected:
  bool Run() override {
    if (events_) StopLifecycle(owned_, events_);
    if (closeEvents_) StopClose(owned_, closeEvents_);  // before the close: ours, not a "client" close
    if (virConnectClose(owned_) < 0) virResetLastError();
    return true;
  }

 private:
  virConnectPtr owned_;
  std::shared_ptr<EventCtx> events_;
  std::shared_ptr<EventCtx> closeEvents_;
};

class ListDomainsWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 protected:
  bool Run() override {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_, &doms, 0);  // 0 = active and inactive
    if (n < 0) return false;
    for (int i = 0; i < n; i++) {
      DomainSummary s;
      // A domain undefined between the list and GetInfo is skipped, not an error for the list.
      if (CollectSummary(doms[i], s)) {
        rows_.push_back(std::move(s));
      } else {
        virResetLastError();
      }
      virDomainFree(doms[i]);
    }
    free(doms);
    return true;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, rows_.size());
    for (size_t i = 0; i < rows_.size(); i++) arr.Set(static_cast<uint32_t>(i), SummaryToJs(env, rows_[i]));
    return arr;
  }

 private:
  std::vector<DomainSummary> rows_;
};

// The XML of every active virtual network (virConnectListAllNetworks + virNetworkGetXMLDesc): what
// says which guest addresses are private to this host (NAT, isolated) and which are routed.
class NetworkXmlsWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 protected:
  bool Run() override {
    virNetworkPtr* nets = nullptr;
    int n = virConnectListAllNetworks(conn_, &nets, VIR_CONNECT_LIST_NETWORKS_ACTIVE);
    if (n < 0) return false;
    for (int i = 0; i < n; i++) {
      // A network destroyed between the list and the XML is skipped, not an error for the list.
      char* xml = virNetworkGetXMLDesc(nets[i], 0);
      if (xml != nullptr) {
        xmls_.emplace_back(xml);
        free(xml);
      } else {
        virResetLastError();
      }
      virNetworkFree(nets[i]);
    }
    free(nets);
    return true;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, xmls_.size());
    for (size_t i = 0; i < xmls_.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::String::New(env, xmls_[i]));
    return arr;
  }

 private:
  std::vector<std::string> xmls_;
};

class AllStatsWorker : public PromiseWorker {
 public:
  AllStatsWorker(Napi::Env env, virConnectPtr conn, unsigned int stats, unsigned int flags)
      : PromiseWorker(env, conn), stats_(stats), flags_(flags) {}

 protected:
  struct Rec {
    std::string uuid, name;
    Params params;
  };
  bool Run() override {
    virDomainStatsRecordPtr* recs = nullptr;
    int n = virConnectGetAllDomainStats(conn_, stats_, &recs, flags_);
    if (n < 0) return false;
    recs_.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
      Rec r;
      char uuid[VIR_UUID_STRING_BUFLEN] = {0};
      if (virDomainGetUUIDString(recs[i]->dom, uuid) < 0) virResetLastError();
      r.uuid = uuid;
      const char* name = virDomainGetName(recs[i]->dom);
      r.name = name != nullptr ? name : "";
      CopyTypedParams(recs[i]->params, recs[i]->nparams, r.params);
      recs_.push_back(std::move(r));
    }
    virDomainStatsRecordListFree(recs);
    return true;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, recs_.size());
    for (size_t i = 0; i < recs_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("uuid", recs_[i].uuid);
      o.Set("name", recs_[i].name);
      o.Set("params", ParamsToJs(env, recs_[i].params));
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }

 private:
  unsigned int stats_, flags_;
  std::vector<Rec> recs_;
};

// Base for calls on one domain looked up by UUID.
class DomainWorker : public PromiseWorker {
 public:
  DomainWorker(Napi::Env env, virConnectPtr conn, std::string uuid)
      : PromiseWorker(env, conn), uuid_(std::move(uuid)) {}

 protected:
  bool Run() override {
    DomainRef dom;
    if (!LookupDomain(uuid_, dom)) return false;
    if (RunOn(dom.p)) return true;
    CaptureFailure();
    return false;
  }
  virtual bool RunOn(virDomainPtr dom) = 0;
  std::string uuid_;
};

class InfoWorker : public DomainWorker {
 public:
  using DomainWorker::DomainWorker;

 protected:
  bool RunOn(virDomainPtr dom) override { return CollectSummary(dom, s_); }
  Napi::Value Result(Napi::Env env) override { return SummaryToJs(env, s_); }

 private:
  DomainSummary s_;
};

class XmlWorker : public DomainWorker {
 public:
  XmlWorker(Napi::Env env, virConnectPtr conn, std::string uuid, unsigned int flags)
      : DomainWorker(env, conn, std::move(uuid)), flags_(flags) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    char* xml = virDomainGetXMLDesc(dom, flags_);
    if (xml == nullptr) return false;
    xml_ = xml;
    free(xml);
    return true;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, xml_); }

 private:
  unsigned int flags_;
  std::string xml_;
};

class VcpusWorker : public DomainWorker {
 public:
  using DomainWorker::DomainWorker;

 protected:
  bool RunOn(virDomainPtr dom) override {
    virDomainInfo info;
    if (virDomainGetInfo(dom, &info) < 0) return false;
    return CollectVcpus(dom, info.nrVirtCpu, v_);
  }
  Napi::Value Result(Napi::Env env) override { return VcpusToJs(env, v_); }

 private:
  VcpuData v_;
};

class CpuStatsWorker : public DomainWorker {
 public:
  using DomainWorker::DomainWorker;

 protected:
  bool RunOn(virDomainPtr dom) override { return CollectCpuTotals(dom, p_); }
  Napi::Value Result(Napi::Env env) override { return ParamsToJs(env, p_); }

 private:
  Params p_;
};

class MemStatsWorker : public DomainWorker {
 public:
  using DomainWorker::DomainWorker;

 protected:
  bool RunOn(virDomainPtr dom) override { return CollectMemoryStats(dom, m_); }
  Napi::Value Result(Napi::Env env) override { return MemStatsToJs(env, m_); }

 private:
  MemStats m_;
};

class BlockStatsWorker : public DomainWorker {
 public:
  BlockStatsWorker(Napi::Env env, virConnectPtr conn, std::string uuid, std::string dev)
      : DomainWorker(env, conn, std::move(uuid)), dev_(std::move(dev)) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    return virDomainBlockStats(dom, dev_.c_str(), &st_, sizeof st_) == 0;
  }
  Napi::Value Result(Napi::Env env) override { return BlockStatsToJs(env, st_); }

 private:
  std::string dev_;
  virDomainBlockStatsStruct st_{};
};

class IfaceStatsWorker : public DomainWorker {
 public:
  IfaceStatsWorker(Napi::Env env, virConnectPtr conn, std::string uuid, std::string dev)
      : DomainWorker(env, conn, std::move(uuid)), dev_(std::move(dev)) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    return virDomainInterfaceStats(dom, dev_.c_str(), &st_, sizeof st_) == 0;
  }
  Napi::Value Result(Napi::Env env) override { return InterfaceStatsToJs(env, st_); }

 private:
  std::string dev_;
  virDomainInterfaceStatsStruct st_{};
};

// Everything the TS fallback needs for one domain in one pool-thread trip (instead of one per
// call). Sections that fail are left out and their messages listed in `errors`.
class FallbackWorker : public DomainWorker {
 public:
  struct Want {
    bool cpu = false, balloon = false, vcpu = false;
    std::vector<std::string> disks, nics;
  };
  FallbackWorker(Napi::Env env, virConnectPtr conn, std::string uuid, Want want)
      : DomainWorker(env, conn, std::move(uuid)), want_(std::move(want)) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    if (!CollectSummary(dom, summary_)) return false;
    if (!summary_.active) return true;  // nothing but state exists for a stopped domain
    if (want_.cpu) hasCpu_ = Try(CollectCpuTotals(dom, cpu_), "cpu");
    if (want_.balloon) hasMem_ = Try(CollectMemoryStats(dom, mem_), "balloon");
    if (want_.vcpu) hasVcpu_ = Try(CollectVcpus(dom, summary_.nrVirtCpu, vcpu_), "vcpu");
    for (const auto& d : want_.disks) {
      virDomainBlockStatsStruct st{};
      bool ok = Try(virDomainBlockStats(dom, d.c_str(), &st, sizeof st) == 0, "block " + d);
      blocks_.push_back({ok, st});
    }
    for (const auto& n : want_.nics) {
      virDomainInterfaceStatsStruct st{};
      bool ok = Try(virDomainInterfaceStats(dom, n.c_str(), &st, sizeof st) == 0, "net " + n);
      nets_.push_back({ok, st});
    }
    return true;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("info", SummaryToJs(env, summary_));
    if (hasCpu_) o.Set("cpu", ParamsToJs(env, cpu_));
    if (hasMem_) o.Set("memory", MemStatsToJs(env, mem_));
    if (hasVcpu_) o.Set("vcpus", VcpusToJs(env, vcpu_));
    Napi::Array blocks = Napi::Array::New(env, blocks_.size());
    for (size_t i = 0; i < blocks_.size(); i++) {
      blocks.Set(static_cast<uint32_t>(i), blocks_[i].first ? Napi::Value(BlockStatsToJs(env, blocks_[i].second)) : env.Null());
    }
    o.Set("blocks", blocks);
    Napi::Array nets = Napi::Array::New(env, nets_.size());
    for (size_t i = 0; i < nets_.size(); i++) {
      nets.Set(static_cast<uint32_t>(i), nets_[i].first ? Napi::Value(InterfaceStatsToJs(env, nets_[i].second)) : env.Null());
    }
    o.Set("nets", nets);
    Napi::Array errs = Napi::Array::New(env, errors_.size());
    for (size_t i = 0; i < errors_.size(); i++) errs.Set(static_cast<uint32_t>(i), errors_[i]);
    o.Set("errors", errs);
    return o;
  }

 private:
  bool Try(bool ok, const std::string& what) {
    if (!ok) errors_.push_back(what + ": " + CaptureLastError("failed").message);
    return ok;
  }
  Want want_;
  DomainSummary summary_;
  bool hasCpu_ = false, hasMem_ = false, hasVcpu_ = false;
  Params cpu_;
  MemStats mem_;
  VcpuData vcpu_;
  std::vector<std::pair<bool, virDomainBlockStatsStruct>> blocks_;
  std::vector<std::pair<bool, virDomainInterfaceStatsStruct>> nets_;
  std::vector<std::string> errors_;
};

enum class Action { Reboot, Shutdown, Reset, Destroy, Create, Suspend, Resume };

bool ParseAction(const std::string& s, Action& a) {
  static const std::pair<const char*, Action> table[] = {
      {"reboot", Action::Reboot},   {"shutdown", Action::Shutdown}, {"reset", Action::Reset},
      {"destroy", Action::Destroy}, {"create", Action::Create},     {"start", Action::Create},
      {"suspend", Action::Suspend}, {"resume", Action::Resume}};
  for (const auto& e : table) {
    if (s == e.first) {
      a = e.second;
      return true;
    }
  }
  return false;
}

class ActionWorker : public DomainWorker {
 public:
  ActionWorker(Napi::Env env, virConnectPtr conn, std::string uuid, Action action, unsigned int flags)
      : DomainWorker(env, conn, std::move(uuid)), action_(action), flags_(flags) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    switch (action_) {
      case Action::Reboot: return virDomainReboot(dom, flags_) == 0;
      case Action::Shutdown: return (flags_ ? virDomainShutdownFlags(dom, flags_) : virDomainShutdown(dom)) == 0;
      case Action::Reset: return virDomainReset(dom, 0) == 0;
      case Action::Destroy: return virDomainDestroy(dom) == 0;
      case Action::Create: return virDomainCreate(dom) == 0;
      case Action::Suspend: return virDomainSuspend(dom) == 0;
      case Action::Resume: return virDomainResume(dom) == 0;
    }
    return false;
  }

 private:
  Action action_;
  unsigned int flags_;  // virDomainRebootFlagValues / virDomainShutdownFlagValues (reboot, shutdown)
};

// One command to the QEMU guest agent (virDomainQemuAgentCommand): blocks this pool thread up to
// libvirt's sync wait plus `timeout` seconds, never the JS thread.
class AgentCommandWorker : public DomainWorker {
 public:
  AgentCommandWorker(Napi::Env env, virConnectPtr conn, std::string uuid, std::string cmd, int timeout)
      : DomainWorker(env, conn, std::move(uuid)), cmd_(std::move(cmd)), timeout_(timeout) {}

 protected:
  bool RunOn(virDomainPtr dom) override {
    char* out = virDomainQemuAgentCommand(dom, cmd_.c_str(), timeout_, 0);
    if (out == nullptr) return false;
    reply_ = out;
    free(out);
    return true;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, reply_); }

 private:
  std::string cmd_;
  int timeout_;
  std::string reply_;
};

class RegisterEventsWorker : public PromiseWorker {
 public:
  RegisterEventsWorker(Napi::Env env, virConnectPtr conn, std::shared_ptr<EventCtx> ctx)
      : PromiseWorker(env, conn), ctx_(std::move(ctx)) {}

 protected:
  bool Run() override {
    if (RegisterLifecycle(conn_, ctx_) >= 0) return true;
    LvError err = CaptureLastError("event registration cancelled");
    StopLifecycle(nullptr, ctx_);  // releases the TSFN that was never handed to libvirt
    Fail(err.message);
    return false;
  }

 private:
  std::shared_ptr<EventCtx> ctx_;
};

class StopEventsWorker : public PromiseWorker {
 public:
  StopEventsWorker(Napi::Env env, virConnectPtr conn, std::shared_ptr<EventCtx> ctx)
      : PromiseWorker(env, conn), ctx_(std::move(ctx)) {}

 protected:
  bool Run() override {
    StopLifecycle(conn_, ctx_);
    return true;
  }

 private:
  std::shared_ptr<EventCtx> ctx_;
};

struct GroupFlag {
  const char* name;
  unsigned int flag;
};
const GroupFlag kGroups[] = {
    {"state", VIR_DOMAIN_STATS_STATE},     {"cpu-total", VIR_DOMAIN_STATS_CPU_TOTAL},
    {"balloon", VIR_DOMAIN_STATS_BALLOON}, {"vcpu", VIR_DOMAIN_STATS_VCPU},
    {"interface", VIR_DOMAIN_STATS_INTERFACE}, {"block", VIR_DOMAIN_STATS_BLOCK},
    {"perf", VIR_DOMAIN_STATS_PERF},       {"iothread", VIR_DOMAIN_STATS_IOTHREAD},
    {"memory", VIR_DOMAIN_STATS_MEMORY},   {"dirtyrate", VIR_DOMAIN_STATS_DIRTYRATE},
    {"vm", VIR_DOMAIN_STATS_VM}};

}  // namespace

// ---------------------------------------------------------------- Connection

Napi::Function Connection::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(
      env, "Connection",
      {InstanceMethod<&Connection::Close>("close"),
       InstanceMethod<&Connection::ListDomains>("listDomains"),
       InstanceMethod<&Connection::NetworkXmls>("networkXmls"),
       InstanceMethod<&Connection::GetAllDomainStats>("getAllDomainStats"),
       InstanceMethod<&Connection::GetDomainInfo>("getDomainInfo"),
       InstanceMethod<&Connection::GetXMLDesc>("getXMLDesc"),
       InstanceMethod<&Connection::GetVcpus>("getVcpus"),
       InstanceMethod<&Connection::GetCPUStats>("getCPUStats"),
       InstanceMethod<&Connection::MemoryStats>("memoryStats"),
       InstanceMethod<&Connection::BlockStats>("blockStats"),
       InstanceMethod<&Connection::InterfaceStats>("interfaceStats"),
       InstanceMethod<&Connection::DomainFallbackStats>("domainFallbackStats"),
       InstanceMethod<&Connection::DomainAction>("domainAction"),
       InstanceMethod<&Connection::AgentCommand>("agentCommand"),
       InstanceMethod<&Connection::StartLifecycleEvents>("startLifecycleEvents"),
       InstanceMethod<&Connection::StopLifecycleEvents>("stopLifecycleEvents"),
       InstanceMethod<&Connection::RefEvents>("refEvents"),
       InstanceMethod<&Connection::UnrefEvents>("unrefEvents"),
       InstanceMethod<&Connection::IsClosed>("isClosed"),
       InstanceMethod<&Connection::OnClose>("onClose")});
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(ctor);
  env.SetInstanceData(data);
  return ctor;
}

Napi::Value Connection::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return RejectTypeError(env, "open(uri): uri must be a string");
  bool readOnly = false;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) return RejectTypeError(env, "open(uri, readOnly): readOnly must be a boolean");
    readOnly = info[1].As<Napi::Boolean>().Value();
  }
  EnsureLibvirtInitialised();
  return (new OpenWorker(env, info[0].As<Napi::String>().Utf8Value(), readOnly))->Start();
}

Connection::Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {
  // Only OpenWorker constructs these; anything else gets a closed, harmless object.
  if (info.Length() == 1 && info[0].IsExternal()) {
    conn_ = info[0].As<Napi::External<virConnect>>().Data();
  } else {
    Napi::TypeError::New(info.Env(), "use open(uri) to create a Connection").ThrowAsJavaScriptException();
  }
}

// Only reached if JS dropped the object without close(): release on the JS thread as a last resort.
Connection::~Connection() {
  if (events_) {
    StopLifecycle(conn_, events_);
    events_.reset();
  }
  if (closeEvents_) {
    StopClose(conn_, closeEvents_);
    closeEvents_.reset();
  }
  if (conn_ != nullptr) {
    virConnectClose(conn_);
    conn_ = nullptr;
  }
}

bool Connection::CheckOpen(const Napi::CallbackInfo& info, Napi::Value& rejection) {
  if (conn_ != nullptr) return true;
  LvError err{"libvirt connection is closed", VIR_ERR_INVALID_CONN, VIR_FROM_NONE};
  auto d = Napi::Promise::Deferred::New(info.Env());
  d.Reject(MakeJsError(info.Env(), err));
  rejection = d.Promise();
  return false;
}

bool Connection::UuidArg(const Napi::CallbackInfo& info, std::string& uuid, Napi::Value& rejection) {
  if (info.Length() < 1 || !info[0].IsString()) {
    rejection = RejectTypeError(info.Env(), "uuid must be a string");
    return false;
  }
  if (!CheckOpen(info, rejection)) return false;
  uuid = info[0].As<Napi::String>().Utf8Value();
  return true;
}

Napi::Value Connection::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (conn_ == nullptr) {  // idempotent
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  std::shared_ptr<EventCtx> events = std::move(events_);
  events_.reset();
  // Stop holding the loop open now; the TSFN itself is released once libvirt frees the callback.
  if (events && eventsRefed_) events->tsfn.Unref(env);
  std::shared_ptr<EventCtx> closeEvents = std::move(closeEvents_);
  closeEvents_.reset();
  virConnectPtr owned = conn_;
  conn_ = nullptr;
  return (new CloseWorker(env, owned, std::move(events), std::move(closeEvents)))->Start();
}

// onClose(listener): libvirt's close callback (listener(reason) on EOF, I/O error, keepalive
// timeout). Returns false when closed or already registered. Never keeps the process alive.
// Registration only stores the callback locally (no RPC), so it runs on the JS thread.
Napi::Value Connection::OnClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "onClose(listener): listener must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (conn_ == nullptr || closeEvents_) return Napi::Boolean::New(env, false);
  auto ctx = std::make_shared<EventCtx>();
  ctx->env = env;
  ctx->tsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "libvirt-close", 0, 1);
  ctx->tsfn.Unref(env);
  TrackEventCtx(ctx);
  if (!RegisterClose(conn_, ctx)) {
    StopClose(nullptr, ctx);  // releases the TSFN
    return Napi::Boolean::New(env, false);
  }
  closeEvents_ = std::move(ctx);
  return Napi::Boolean::New(env, true);
}

Napi::Value Connection::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), conn_ == nullptr);
}

Napi::Value Connection::ListDomains(const Napi::CallbackInfo& info) {
  Napi::Value rej;
  if (!CheckOpen(info, rej)) return rej;
  return (new ListDomainsWorker(info.Env(), conn_))->Start();
}

Napi::Value Connection::NetworkXmls(const Napi::CallbackInfo& info) {
  Napi::Value rej;
  if (!CheckOpen(info, rej)) return rej;
  return (new NetworkXmlsWorker(info.Env(), conn_))->Start();
}

Napi::Value Connection::GetAllDomainStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> groups;
  if (info.Length() < 1 || !StringArray(info[0], groups)) {
    return RejectTypeError(env, "getAllDomainStats(groups, flags): groups must be an array of strings");
  }
  unsigned int stats = 0;
  for (const auto& g : groups) {
    bool found = false;
    for (const auto& k : kGroups) {
      if (g == k.name) {
        stats |= k.flag;
        found = true;
      }
    }
    if (!found) return RejectTypeError(env, "unknown stats group: " + g);
  }
  unsigned int flags = 0;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    double f = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(f >= 0 && f <= 4294967295.0) || f != static_cast<double>(static_cast<unsigned int>(f))) {
      return RejectTypeError(env, "getAllDomainStats(groups, flags): flags must be a 32-bit unsigned integer");
    }
    flags = static_cast<unsigned int>(f);
  }
  Napi::Value rej;
  if (!CheckOpen(info, rej)) return rej;
  return (new AllStatsWorker(env, conn_, stats, flags))->Start();
}

Napi::Value Connection::GetDomainInfo(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  return (new InfoWorker(info.Env(), conn_, uuid))->Start();
}

Napi::Value Connection::GetXMLDesc(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  unsigned int flags = 0;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) return RejectTypeError(info.Env(), "getXMLDesc(uuid, flags): flags must be a number");
    flags = info[1].As<Napi::Number>().Uint32Value();
  }
  return (new XmlWorker(info.Env(), conn_, uuid, flags))->Start();
}

Napi::Value Connection::GetVcpus(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  return (new VcpusWorker(info.Env(), conn_, uuid))->Start();
}

Napi::Value Connection::GetCPUStats(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  return (new CpuStatsWorker(info.Env(), conn_, uuid))->Start();
}

Napi::Value Connection::MemoryStats(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  return (new MemStatsWorker(info.Env(), conn_, uuid))->Start();
}

Napi::Value Connection::BlockStats(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  if (info.Length() < 2 || !info[1].IsString()) return RejectTypeError(info.Env(), "blockStats(uuid, dev): dev must be a string");
  return (new BlockStatsWorker(info.Env(), conn_, uuid, info[1].As<Napi::String>().Utf8Value()))->Start();
}

Napi::Value Connection::InterfaceStats(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  if (info.Length() < 2 || !info[1].IsString()) return RejectTypeError(info.Env(), "interfaceStats(uuid, dev): dev must be a string");
  return (new IfaceStatsWorker(info.Env(), conn_, uuid, info[1].As<Napi::String>().Utf8Value()))->Start();
}

// domainFallbackStats(uuid, {cpu, balloon, vcpu}: booleans, disks: string[], nics: string[])
Napi::Value Connection::DomainFallbackStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  FallbackWorker::Want want;
  if (info.Length() < 4 || !info[1].IsObject() || !StringArray(info[2], want.disks) || !StringArray(info[3], want.nics)) {
    return RejectTypeError(env, "domainFallbackStats(uuid, sections, disks, nics): sections must be an object, disks and nics arrays of strings");
  }
  Napi::Object s = info[1].As<Napi::Object>();
  want.cpu = s.Get("cpu").ToBoolean().Value();
  want.balloon = s.Get("balloon").ToBoolean().Value();
  want.vcpu = s.Get("vcpu").ToBoolean().Value();
  return (new FallbackWorker(env, conn_, uuid, std::move(want)))->Start();
}

Napi::Value Connection::DomainAction(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  Action action;
  if (info.Length() < 2 || !info[1].IsString() || !ParseAction(info[1].As<Napi::String>().Utf8Value(), action)) {
    return RejectTypeError(info.Env(), "domainAction(uuid, action): action must be one of reboot, shutdown, reset, destroy, create, suspend, resume");
  }
  unsigned int flags = 0;
  if (info.Length() >= 3 && !info[2].IsUndefined()) {
    double f = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
    if ((action != Action::Reboot && action != Action::Shutdown) || !(f >= 0 && f <= 4294967295.0) || f != static_cast<double>(static_cast<unsigned int>(f))) {
      return RejectTypeError(info.Env(), "domainAction(uuid, action, flags): flags (a 32-bit unsigned integer) are for reboot and shutdown only");
    }
    flags = static_cast<unsigned int>(f);
  }
  return (new ActionWorker(info.Env(), conn_, uuid, action, flags))->Start();
}

// agentCommand(uuid, json, timeoutSeconds): the agent's reply as JSON text. timeoutSeconds as
// libvirt takes it: seconds > 0, or -2 (block), -1 (libvirt's default), 0 (do not wait).
Napi::Value Connection::AgentCommand(const Napi::CallbackInfo& info) {
  std::string uuid;
  Napi::Value rej;
  if (!UuidArg(info, uuid, rej)) return rej;
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsNumber()) {
    return RejectTypeError(info.Env(), "agentCommand(uuid, json, timeoutSeconds): json must be a string, timeoutSeconds a number");
  }
  std::string cmd = info[1].As<Napi::String>().Utf8Value();
  double t = info[2].As<Napi::Number>().DoubleValue();
  if (cmd.empty() || cmd.size() > 65536) return RejectTypeError(info.Env(), "agentCommand: json must be 1 to 65536 bytes");
  if (!(t >= -2 && t <= 3600) || t != static_cast<double>(static_cast<int>(t))) {
    return RejectTypeError(info.Env(), "agentCommand: timeoutSeconds must be an integer from -2 to 3600");
  }
  return (new AgentCommandWorker(info.Env(), conn_, uuid, std::move(cmd), static_cast<int>(t)))->Start();
}

// startLifecycleEvents(listener): one subscription per connection; the TS layer fans out.
Napi::Value Connection::StartLifecycleEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) return RejectTypeError(env, "startLifecycleEvents(listener): listener must be a function");
  Napi::Value rej;
  if (!CheckOpen(info, rej)) return rej;
  if (events_) {
    LvError err{"lifecycle events already started on this connection", -1, -1};
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeJsError(env, err));
    return d.Promise();
  }
  auto ctx = std::make_shared<EventCtx>();
  ctx->env = env;
  ctx->tsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "libvirt-lifecycle", 0, 1);
  if (!eventsRefed_) ctx->tsfn.Unref(env);
  TrackEventCtx(ctx);
  events_ = ctx;
  return (new RegisterEventsWorker(env, conn_, std::move(ctx)))->Start();
}

Napi::Value Connection::StopLifecycleEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!events_ || conn_ == nullptr) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  std::shared_ptr<EventCtx> ctx = std::move(events_);
  events_.reset();
  if (eventsRefed_) ctx->tsfn.Unref(env);
  return (new StopEventsWorker(env, conn_, std::move(ctx)))->Start();
}

// ref/unref: whether an active subscription keeps the Node process alive (default: it does).
Napi::Value Connection::RefEvents(const Napi::CallbackInfo& info) {
  if (!eventsRefed_ && events_) events_->tsfn.Ref(info.Env());
  eventsRefed_ = true;
  return info.Env().Undefined();
}

Napi::Value Connection::UnrefEvents(const Napi::CallbackInfo& info) {
  if (eventsRefed_ && events_) events_->tsfn.Unref(info.Env());
  eventsRefed_ = false;
  return info.Env().Undefined();
}

}  // namespace lv
