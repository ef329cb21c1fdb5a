// Minimal rtnetlink helpers for routes and IPv6 addresses (no shelling out to `ip`).
#pragma once
#include <cstdint>
#include <string>

namespace mesh {

struct RouteSpec {
  uint32_t dst;     // host byte order; masked to `bits` before sending
  int bits;         // 0..32
  int ifindex;      // output interface
  uint32_t mtu;     // 0 = none (RTAX_MTU metric)
  int64_t metric;   // < 0 = not given (RTA_PRIORITY)
};

// Adds (create or replace an identical dst/metric route) or deletes an IPv4 route in the main
// table. Returns 0 or a positive errno; `what` receives a description for error messages.
int RouteChange(bool add, const RouteSpec& route);

struct Route6Spec {
  unsigned char dst[16];  // network byte order; masked to `bits` before sending
  int bits;               // 0..128
  int ifindex;
  uint32_t mtu;           // 0 = none
  int64_t metric;         // < 0 = not given
};

// The same for an IPv6 route.
int Route6Change(bool add, const Route6Spec& route);

// Adds (or replaces) an address of `family` (AF_INET: 4 bytes, AF_INET6: 16, network order) with
// its prefix length on an interface; IPv6 without duplicate address detection. 0 or a positive errno.
int AddressAdd(int family, int ifindex, const unsigned char* addr, int bits);

}  // namespace mesh
