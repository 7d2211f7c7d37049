// Lifecycle events: libvirt's default event loop on a dedicated thread, delivered to JS through a
// ThreadSafeFunction.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <memory>
#include <mutex>

namespace lv {

// Once per process, before the first virConnectOpen: thread-safe libvirt init, the default event
// implementation (needed for events and keepalive) and the thread that runs it forever. The
// thread is detached and holds no libuv handle, so it never keeps Node alive.
void EnsureLibvirtInitialised();

// Shared between the Connection (JS thread), libvirt's event thread and the freecb.
struct EventCtx {
  std::mutex mu;
  bool dead = false;  // once true, nothing touches tsfn from the event thread
  napi_env env = nullptr;
  Napi::ThreadSafeFunction tsfn;
  int callbackId = -1;     // libvirt callback id while registered
  int watchdogId = -1;     // the watchdog callback's id (lifecycle contexts), while registered
  bool cancelled = false;  // stop/close happened, possibly before registration finished
};

// Registers the lifecycle callback, and the watchdog callback delivered through the same listener
// as event "watchdog" with the action as its detail (may block: RPC on remote URIs). Returns the
// lifecycle id or -1; a driver refusing the watchdog event leaves lifecycle events working.
// On success libvirt owns a reference to ctx and releases it (and the TSFN) through freecb.
int RegisterLifecycle(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx);

// Stop delivery for ctx and deregister (may block). Safe to call twice and from any thread.
void StopLifecycle(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx);

// Close callback (libvirt tells that the connection closed: EOF, I/O error, keepalive timeout).
// ctx->tsfn delivers the reason number. Registered without a freecb: drivers without close
// callbacks (test://) accept and ignore the registration, so ownership stays here; after
// StopClose returns, libvirt no longer calls it and ctx's TSFN is released.
bool RegisterClose(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx);
void StopClose(virConnectPtr conn, const std::shared_ptr<EventCtx>& ctx);

// Per-env bookkeeping so env teardown (process exit, worker exit) stops calls into a dead TSFN.
void TrackEventCtx(const std::shared_ptr<EventCtx>& ctx);
void InstallEnvCleanup(napi_env env);

}  // namespace lv
