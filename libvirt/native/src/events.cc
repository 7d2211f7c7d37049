#include "events.h"
#include <libvirt/virterror.h>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace lv {

static std::once_flag g_init_once;

void EnsureLibvirtInitialised() {
  std::call_once(g_init_once, [] {
    virInitialize();
    if (virEventRegisterDefaultImpl() < 0) {
      virResetLastError();
      return;  // no events or keepalive, but plain calls still work
    }
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() < 0) virResetLastError();
      }
    }).detach();
  });
}

struct LifecycleEvent {
  std::string uuid, name;
  int event, detail;
};

// Watchdog events travel as lifecycle events with this event number (no virDomainEventType has
// it) and the watchdog's action (virDomainEventWatchdogAction) as the detail.
static constexpr int kWatchdogEvent = 1000;

static const char* EventName(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED: return "undefined";
    case VIR_DOMAIN_EVENT_STARTED: return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED: return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED: return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED: return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED: return "crashed";
    case kWatchdogEvent: return "watchdog";
    default: return "unknown";
  }
}

// JS thread: build {uuid, name, event, eventCode, detail} and call the listener.
static void Deliver(Napi::Env env, Napi::Function fn, LifecycleEvent* raw) {
  std::unique_ptr<LifecycleEvent> ev(raw);
  if (env == nullptr || fn.IsEmpty()) return;  // TSFN is being torn down
  Napi::Object o = Napi::Object::New(env);
  o.Set("uuid", ev->uuid);
  o.Set("name", ev->name);
  o.Set("event", EventName(ev->event));
  o.Set("eventCode", Napi::Number::New(env, ev->event));
  o.Set("detail", Napi::Number::New(env, ev->detail));
  try {
    fn.Call({o});
  } catch (const Napi::Error& e) {
    // A throwing listener must surface as an ordinary uncaught JS error, not a C++ terminate.
    e.ThrowAsJavaScriptException();
  }
}

// libvirt event thread. Must not block: NonBlockingCall queues without limit.
static int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  auto* holder = static_cast<std::shared_ptr<EventCtx>*>(opaque);
  EventCtx& ctx = **holder;
  char uuid[VIR_UUID_STRING_BUFLEN] = {0};
  if (virDomainGetUUIDString(dom, uuid) < 0) virResetLastError();
  const char* name = virDomainGetName(dom);
  auto* ev = new LifecycleEvent{uuid, name != nullptr ? name : "", event, detail};
  std::lock_guard<std::mutex> lock(ctx.mu);
  if (ctx.dead || ctx.tsfn.NonBlockingCall(ev, Deliver) != napi_ok) delete ev;
  return 0;
}

// libvirt event thread: a guest's watchdog fired (VIR_DOMAIN_EVENT_ID_WATCHDOG).
static void OnWatchdog(virConnectPtr conn, virDomainPtr dom, int action, void* opaque) {
  OnLifecycle(conn, dom, kWatchdogEvent, action, opaque);
}

// libvirt calls this once the callback can no longer run: the TSFN is released here, which is
// what finally lets the JS side forget it.
static void FreeCtx(void* opaque) {
  auto* holder = static_cast<std::shared_ptr<EventCtx>*>(opaque);
  {
    std::lock_guard<std::mutex> lock((*holder)->mu);
    if (!(*holder)->dead) {
      (*holder)->dead = true;
      (*holder)->tsfn.Release();
    }
  }
  delete holder;
}

int RegisterLifecycle(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx) {
  std::lock_guard<std::mutex> lock(ctx->mu);
  if (ctx->cancelled) return -1;
  auto* holder = new std::shared_ptr<EventCtx>(ctx);
  // Holding ctx->mu here is safe: the event thread only takes it inside OnLifecycle, which cannot
  // run for this registration before it exists.
  int id = virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), holder, FreeCtx);
  if (id < 0) {
    delete holder;  // libvirt did not take ownership
    return -1;
  }
  ctx->callbackId = id;
  auto* watchdogHolder = new std::shared_ptr<EventCtx>(ctx);
  int wid = virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_WATCHDOG,
                                             VIR_DOMAIN_EVENT_CALLBACK(OnWatchdog), watchdogHolder, FreeCtx);
  if (wid < 0) {
    delete watchdogHolder;
    virResetLastError();
  } else {
    ctx->watchdogId = wid;
  }
  return id;
}

void StopLifecycle(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx) {
  int id, wid;
  {
    std::lock_guard<std::mutex> lock(ctx->mu);
    ctx->cancelled = true;
    id = ctx->callbackId;
    wid = ctx->watchdogId;
    ctx->callbackId = -1;
    ctx->watchdogId = -1;
    if (id < 0 && !ctx->dead) {  // never registered: nobody else will release the TSFN
      ctx->dead = true;
      ctx->tsfn.Release();
    }
  }
  // Outside the lock: deregistering may call FreeCtx synchronously, which takes it.
  if (id >= 0 && conn != nullptr && virConnectDomainEventDeregisterAny(conn, id) < 0) {
    virResetLastError();
  }
  if (wid >= 0 && conn != nullptr && virConnectDomainEventDeregisterAny(conn, wid) < 0) {
    virResetLastError();
  }
}

// JS thread: call the close listener with the reason number.
static void DeliverClose(Napi::Env env, Napi::Function fn, int* raw) {
  std::unique_ptr<int> reason(raw);
  if (env == nullptr || fn.IsEmpty()) return;
  try {
    fn.Call({Napi::Number::New(env, *reason)});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  }
}

// libvirt event thread (under the close-callback lock, so StopClose waits for it to return).
static void OnClose(virConnectPtr, int reason, void* opaque) {
  EventCtx& ctx = *static_cast<EventCtx*>(opaque);
  auto* r = new int(reason);
  std::lock_guard<std::mutex> lock(ctx.mu);
  if (ctx.dead || ctx.tsfn.NonBlockingCall(r, DeliverClose) != napi_ok) delete r;
}

bool RegisterClose(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx) {
  if (virConnectRegisterCloseCallback(conn, OnClose, ctx.get(), nullptr) < 0) {
    virResetLastError();
    return false;
  }
  ctx->callbackId = 0;
  return true;
}

void StopClose(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx) {
  bool registered;
  {
    std::lock_guard<std::mutex> lock(ctx->mu);
    registered = ctx->callbackId >= 0;
    ctx->callbackId = -1;
  }
  // Outside ctx->mu: a running OnClose holds libvirt's lock and then takes ctx->mu.
  if (registered && conn != nullptr && virConnectUnregisterCloseCallback(conn, OnClose) < 0) virResetLastError();
  std::lock_guard<std::mutex> lock(ctx->mu);
  if (!ctx->dead) {
    ctx->dead = true;
    ctx->tsfn.Release();
  }
}

static std::mutex g_track_mu;
static std::vector<std::weak_ptr<EventCtx>> g_tracked;

void TrackEventCtx(const std::shared_ptr<EventCtx>& ctx) {
  std::lock_guard<std::mutex> lock(g_track_mu);
  g_tracked.erase(std::remove_if(g_tracked.begin(), g_tracked.end(),
                                 [](const std::weak_ptr<EventCtx>& w) { return w.expired(); }),
                  g_tracked.end());
  g_tracked.push_back(ctx);
}

static void OnEnvCleanup(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  std::lock_guard<std::mutex> lock(g_track_mu);
  for (auto& w : g_tracked) {
    if (auto ctx = w.lock()) {
      std::lock_guard<std::mutex> l2(ctx->mu);
      if (ctx->env == env) ctx->dead = true;  // Node frees the TSFN itself at teardown
    }
  }
}

void InstallEnvCleanup(napi_env env) { napi_add_env_cleanup_hook(env, OnEnvCleanup, env); }

}  // namespace lv

