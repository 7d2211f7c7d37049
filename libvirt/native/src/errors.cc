#include "errors.h"

namespace lv {

static void IgnoreError(void*, virErrorPtr) {}

void SilenceDefaultErrorHandler() { virSetErrorFunc(nullptr, IgnoreError); }

LvError CaptureLastError(const char* fallback) {
  LvError out;
  virErrorPtr e = virGetLastError();
  if (e != nullptr && e->code != VIR_ERR_OK) {
    out.message = e->message != nullptr ? e->message : fallback;
    out.code = e->code;
    out.domain = e->domain;
  } else {
    out.message = fallback;
  }
  virResetLastError();
  return out;
}

Napi::Value MakeJsError(Napi::Env env, const LvError& err) {
  Napi::Error e = Napi::Error::New(env, err.message);
  Napi::Object o = e.Value();
  o.Set("code", Napi::Number::New(env, err.code));
  o.Set("domain", Napi::Number::New(env, err.domain));
  o.Set("libvirt", Napi::Boolean::New(env, err.code >= 0));
  return o;
}

Napi::Value RejectTypeError(Napi::Env env, const std::string& message) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(Napi::TypeError::New(env, message).Value());
  return d.Promise();
}

}  // namespace lv
