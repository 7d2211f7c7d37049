// Libvirt error capture (worker threads) and conversion to JS Errors (main thread).
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string>

namespace lv {

struct LvError {
  std::string message;
  int code = -1;    // virErrorNumber, -1 when the error did not come from libvirt
  int domain = -1;  // virErrorDomain
};

// Must run on the thread that made the failing call: libvirt keeps the last error per thread.
LvError CaptureLastError(const char* fallback);

// Error with .code (libvirt virErrorNumber) and .domain (virErrorDomain) properties.
Napi::Value MakeJsError(Napi::Env env, const LvError& err);

// A rejected Promise for argument errors: the API is promise-based, so callers need not also catch.
Napi::Value RejectTypeError(Napi::Env env, const std::string& message);

// Installed once: without it libvirt prints every error to stderr.
void SilenceDefaultErrorHandler();

}  // namespace lv
