#include "netlink.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace mesh {

namespace {

struct Request {
  nlmsghdr nh;
  rtmsg rt;
  char attrs[256];
};

struct AddrRequest {
  nlmsghdr nh;
  ifaddrmsg ifa;
  char attrs[256];
};

// Appends an attribute after the message so far (the request structs leave 256 bytes for them).
rtattr* AddAttr(nlmsghdr* nh, unsigned short type, const void* data, size_t len) {
  char* at = reinterpret_cast<char*>(nh) + NLMSG_ALIGN(nh->nlmsg_len);
  rtattr* rta = reinterpret_cast<rtattr*>(at);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  if (len) std::memcpy(at + RTA_LENGTH(0), data, len);
  nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
  return rta;
}

// Closes the socket on every return path.
struct SocketCloser {
  int fd;
  ~SocketCloser() { close(fd); }
};

// A kernel that does not answer within this long fails the call (ETIMEDOUT) instead of hanging the loop.
constexpr int kReplyTimeoutMs = 2000;
// Replies that are not ours (wrong sequence or sender) are skipped, but not forever.
constexpr int kMaxReplies = 64;

// Sends one request and waits for the kernel's acknowledgement: 0 or a positive errno.
int Transact(nlmsghdr* request);

// Route attributes shared by both families: output interface, priority, MTU metric.
void AddRouteAttrs(nlmsghdr* nh, bool add, int ifindex, uint32_t mtu, int64_t metric) {
  int oif = ifindex;
  AddAttr(nh, RTA_OIF, &oif, 4);
  if (metric >= 0) {
    uint32_t prio = static_cast<uint32_t>(metric);
    AddAttr(nh, RTA_PRIORITY, &prio, 4);
  }
  if (add && mtu > 0) {
    rtattr* metrics = AddAttr(nh, RTA_METRICS, nullptr, 0);
    AddAttr(nh, RTAX_MTU, &mtu, 4);
    metrics->rta_len = static_cast<unsigned short>(reinterpret_cast<char*>(nh) + nh->nlmsg_len - reinterpret_cast<char*>(metrics));
  }
}

}  // namespace

static_assert(offsetof(Request, attrs) == NLMSG_LENGTH(sizeof(rtmsg)), "rtattr offset");
static_assert(offsetof(AddrRequest, attrs) == NLMSG_LENGTH(sizeof(ifaddrmsg)), "rtattr offset");

// A route message of either family, without its RTA_DST; `scope` is the added route's.
static void InitRouteRequest(Request* req, bool add, unsigned char family, int bits, unsigned char scope) {
  std::memset(req, 0, sizeof(*req));
  req->nh.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req->nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  req->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? (NLM_F_CREATE | NLM_F_REPLACE) : 0);
  req->nh.nlmsg_seq = 1;
  req->rt.rtm_family = family;
  req->rt.rtm_dst_len = static_cast<unsigned char>(bits);
  req->rt.rtm_table = RT_TABLE_MAIN;
  req->rt.rtm_protocol = add ? RTPROT_BOOT : 0;
  req->rt.rtm_scope = add ? scope : static_cast<unsigned char>(RT_SCOPE_NOWHERE);
  req->rt.rtm_type = RTN_UNICAST;
}

int RouteChange(bool add, const RouteSpec& route) {
  if (route.bits < 0 || route.bits > 32) return EINVAL;
  Request req;
  InitRouteRequest(&req, add, AF_INET, route.bits, RT_SCOPE_LINK);

  uint32_t mask = route.bits == 0 ? 0 : (0xffffffffu << (32 - route.bits));
  uint32_t dst = htonl(route.dst & mask);
  if (route.bits > 0) AddAttr(&req.nh, RTA_DST, &dst, 4);
  AddRouteAttrs(&req.nh, add, route.ifindex, route.mtu, route.metric);
  return Transact(&req.nh);
}

int Route6Change(bool add, const Route6Spec& route) {
  if (route.bits < 0 || route.bits > 128) return EINVAL;
  Request req;
  InitRouteRequest(&req, add, AF_INET6, route.bits, RT_SCOPE_UNIVERSE);
  unsigned char dst[16];
  for (int i = 0; i < 16; i++) {
    int keep = route.bits - i * 8;
    unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
    dst[i] = route.dst[i] & mask;
  }
  if (route.bits > 0) AddAttr(&req.nh, RTA_DST, dst, 16);
  AddRouteAttrs(&req.nh, add, route.ifindex, route.mtu, route.metric);
  return Transact(&req.nh);
}

int AddressAdd(int family, int ifindex, const unsigned char* addr, int bits) {
  const int len = family == AF_INET6 ? 16 : 4;
  if ((family != AF_INET && family != AF_INET6) || bits < 0 || bits > len * 8) return EINVAL;
  AddrRequest req;
  std::memset(&req, 0, sizeof(req));
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.nh.nlmsg_type = RTM_NEWADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = static_cast<unsigned char>(family);
  req.ifa.ifa_prefixlen = static_cast<unsigned char>(bits);
  // No duplicate address detection: the address is usable at once (a TUN has no neighbours).
  req.ifa.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = static_cast<unsigned int>(ifindex);
  AddAttr(&req.nh, IFA_LOCAL, addr, len);
  AddAttr(&req.nh, IFA_ADDRESS, addr, len);
  return Transact(&req.nh);
}

namespace {

int Transact(nlmsghdr* request) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  SocketCloser closer{fd};
  timeval timeout{kReplyTimeoutMs / 1000, (kReplyTimeoutMs % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0) return errno;
  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, request, request->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) return errno;
  alignas(nlmsghdr) char buf[8192];
  for (int replies = 0; replies < kMaxReplies; replies++) {
    sockaddr_nl from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    }
    if (n == 0 || from.nl_pid != 0) continue;  // not from the kernel
    int len = static_cast<int>(n);
    for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != request->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        // NLMSG_OK checked the header against the datagram; the error code needs its payload too.
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
        const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return e->error < 0 ? -e->error : 0;
      }
      if (h->nlmsg_type == NLMSG_DONE) return 0;
    }
  }
  return EPROTO;
}

}  // namespace

}  // namespace mesh
