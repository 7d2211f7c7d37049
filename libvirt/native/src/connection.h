// Connection: a JS object owning one virConnectPtr. Every method returns a Promise.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <memory>
#include "events.h"

namespace lv {

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Define(Napi::Env env);
  // open(uri: string, readOnly?: boolean): Promise<Connection>
  static Napi::Value Open(const Napi::CallbackInfo& info);

  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value ListDomains(const Napi::CallbackInfo& info);
  Napi::Value NetworkXmls(const Napi::CallbackInfo& info);
  Napi::Value GetAllDomainStats(const Napi::CallbackInfo& info);
  Napi::Value GetDomainInfo(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value GetVcpus(const Napi::CallbackInfo& info);
  Napi::Value GetCPUStats(const Napi::CallbackInfo& info);
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);
  Napi::Value BlockStats(const Napi::CallbackInfo& info);
  Napi::Value InterfaceStats(const Napi::CallbackInfo& info);
  Napi::Value DomainFallbackStats(const Napi::CallbackInfo& info);
  Napi::Value DomainAction(const Napi::CallbackInfo& info);
  Napi::Value AgentCommand(const Napi::CallbackInfo& info);
  Napi::Value StartLifecycleEvents(const Napi::CallbackInfo& info);
  Napi::Value StopLifecycleEvents(const Napi::CallbackInfo& info);
  Napi::Value RefEvents(const Napi::CallbackInfo& info);
  Napi::Value UnrefEvents(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value OnClose(const Napi::CallbackInfo& info);

  // Returns a rejected promise if closed or if info[0] is not a string.
  bool CheckOpen(const Napi::CallbackInfo& info, Napi::Value& rejection);
  bool UuidArg(const Napi::CallbackInfo& info, std::string& uuid, Napi::Value& rejection);

  virConnectPtr conn_ = nullptr;
  std::shared_ptr<EventCtx> events_;  // set while a lifecycle subscription exists
  bool eventsRefed_ = true;
  std::shared_ptr<EventCtx> closeEvents_;  // set while a close listener is registered
};

}  // namespace lv
