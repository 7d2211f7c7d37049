// Promise-returning AsyncWorker: libvirt calls run on the libuv thread pool, never on the JS thread.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <exception>
#include <string>
#include "errors.h"

namespace lv {

// RAII for a virDomainPtr looked up inside Run().
struct DomainRef {
  virDomainPtr p = nullptr;
  DomainRef() = default;
  DomainRef(const DomainRef&) = delete;
  DomainRef& operator=(const DomainRef&) = delete;
  ~DomainRef() { if (p != nullptr) virDomainFree(p); }
};

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // conn may be null (open). A non-null conn gets its own reference so that close() on the
  // JS side cannot free it while this worker still uses it.
  PromiseWorker(Napi::Env env, virConnectPtr conn)
      : Napi::AsyncWorker(env, "libvirt"), conn_(conn), deferred_(Napi::Promise::Deferred::New(env)) {
    if (conn_ != nullptr) virConnectRef(conn_);
  }
  ~PromiseWorker() override {
    if (conn_ != nullptr) virConnectClose(conn_);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  // Queue and hand back the promise (the worker deletes itself after OnOK).
  Napi::Value Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  // Runs on a pool thread. Return false after a failed libvirt call; the error is captured here.
  virtual bool Run() = 0;
  // Runs on the JS thread after Run() returned true.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  bool LookupDomain(const std::string& uuid, DomainRef& dom) {
    dom.p = virDomainLookupByUUIDString(conn_, uuid.c_str());
    return dom.p != nullptr;
  }
  void Fail(const std::string& message) { failed_ = true; err_.message = message; }
  // Capture now, before any further libvirt call (even virDomainFree) resets the thread's error.
  void CaptureFailure() {
    if (err_.message.empty()) err_ = CaptureLastError("libvirt call failed");
  }

  virConnectPtr conn_;

 private:
  void Execute() final {
    try {
      if (!Run()) {
        failed_ = true;
        if (err_.message.empty()) err_ = CaptureLastError("libvirt call failed");
      }
    } catch (const std::exception& e) {
      failed_ = true;
      err_ = LvError{std::string("internal error: ") + e.what(), -1, -1};
    } catch (...) {
      failed_ = true;
      err_ = LvError{"internal error", -1, -1};
    }
    // Drop our reference off the JS thread: the last close of a remote connection is an RPC.
    if (conn_ != nullptr) {
      virConnectClose(conn_);
      conn_ = nullptr;
    }
  }
  void OnOK() final {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failed_) {
      deferred_.Reject(MakeJsError(env, err_));
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) final { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  bool failed_ = false;
  LvError err_;
};

}  // namespace lv
