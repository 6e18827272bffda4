// setsockoptInt: the socket options Node's dgram does not expose, which the soft-RoCE UDP link needs to look
// like rxe on the wire (IPv4 ID 0 via IP_PMTUDISC_DO; accepting rxe's zero UDP checksum over IPv6).
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>

#include "common.h"

#ifndef UDP_NO_CHECK6_RX
#define UDP_NO_CHECK6_RX 102
#endif

namespace iser {

namespace {

Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) throw Napi::TypeError::New(env, "setsockoptInt(fd, level, name, value)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int value = info[3].As<Napi::Number>().Int32Value();
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) ThrowErrno(env, "setsockopt", errno);
  return env.Undefined();
}

}  // namespace

void InitSockopt(Napi::Env env, Napi::Object exports) {
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("SOL_SOCKET", static_cast<int>(SOL_SOCKET));
  c.Set("IPPROTO_IP", static_cast<int>(IPPROTO_IP));
  c.Set("IPPROTO_IPV6", static_cast<int>(IPPROTO_IPV6));
  c.Set("IPPROTO_UDP", static_cast<int>(IPPROTO_UDP));
  c.Set("IP_MTU_DISCOVER", static_cast<int>(IP_MTU_DISCOVER));
  c.Set("IP_PMTUDISC_DO", static_cast<int>(IP_PMTUDISC_DO));
  c.Set("UDP_NO_CHECK6_RX", static_cast<int>(UDP_NO_CHECK6_RX));
  exports.Set("socketConstants", c);
}

}  // namespace iser
