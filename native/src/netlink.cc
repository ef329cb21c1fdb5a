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

rtattr* AddAttr(Request* req, unsigned short type, const void* data, size_t len) {
  nlmsghdr* nh = &req->nh;
  char* at = req->attrs + (NLMSG_ALIGN(nh->nlmsg_len) - NLMSG_LENGTH(sizeof(rtmsg)));
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

}  // namespace

static_assert(offsetof(Request, attrs) == NLMSG_LENGTH(sizeof(rtmsg)), "rtattr offset");

int RouteChange(bool add, const RouteSpec& route) {
  if (route.bits < 0 || route.bits > 32) return EINVAL;
  Request req;
  std::memset(&req, 0, sizeof(req));
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? (NLM_F_CREATE | NLM_F_REPLACE) : 0);
  req.nh.nlmsg_seq = 1;
  req.rt.rtm_family = AF_INET;
  req.rt.rtm_dst_len = static_cast<unsigned char>(route.bits);
  req.rt.rtm_table = RT_TABLE_MAIN;
  req.rt.rtm_protocol = add ? RTPROT_BOOT : 0;
  req.rt.rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE;
  req.rt.rtm_type = RTN_UNICAST;

  uint32_t mask = route.bits == 0 ? 0 : (0xffffffffu << (32 - route.bits));
  uint32_t dst = htonl(route.dst & mask);
  if (route.bits > 0) AddAttr(&req, RTA_DST, &dst, 4);
  int oif = route.ifindex;
  AddAttr(&req, RTA_OIF, &oif, 4);
  if (route.metric >= 0) {
    uint32_t prio = static_cast<uint32_t>(route.metric);
    AddAttr(&req, RTA_PRIORITY, &prio, 4);
  }
  if (add && route.mtu > 0) {
    rtattr* metrics = AddAttr(&req, RTA_METRICS, nullptr, 0);
    uint32_t mtu = route.mtu;
    AddAttr(&req, RTAX_MTU, &mtu, 4);
    metrics->rta_len = static_cast<unsigned short>(
        reinterpret_cast<char*>(&req.nh) + req.nh.nlmsg_len - reinterpret_cast<char*>(metrics));
  }

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  SocketCloser closer{fd};
  timeval timeout{kReplyTimeoutMs / 1000, (kReplyTimeoutMs % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0) return errno;
  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &req, req.nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) return errno;
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
      if (h->nlmsg_seq != req.nh.nlmsg_seq) continue;
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

}  // namespace mesh
