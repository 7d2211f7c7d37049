// Entry point of the nanoprobe's libvirt binding.
#include <napi.h>
#include <libvirt/libvirt.h>
#include "connection.h"
#include "errors.h"
#include "events.h"

namespace {

Napi::Value LibvirtVersion(const Napi::CallbackInfo& info) {
  unsigned long lib = 0;
  if (virGetVersion(&lib, nullptr, nullptr) < 0) lib = 0;
  return Napi::Number::New(info.Env(), static_cast<double>(lib));  // major*1e6 + minor*1e3 + micro
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lv::SilenceDefaultErrorHandler();
  lv::InstallEnvCleanup(env);
  exports.Set("Connection", lv::Connection::Define(env));
  exports.Set("open", Napi::Function::New(env, lv::Connection::Open, "open"));
  exports.Set("libvirtVersion", Napi::Function::New(env, LibvirtVersion, "libvirtVersion"));
  return exports;
}

}  // namespace

NODE_API_MODULE(nanoprobe_libvirt, Init)
