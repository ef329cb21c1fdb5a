// Minimal rtnetlink helpers for IPv4 routes (no shelling out to `ip`).
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

}  // namespace mesh
