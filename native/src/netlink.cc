#include "netlink.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
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
  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &req, req.nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    int err = errno;
    close(fd);
    return err;
  }
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    int len = static_cast<int>(n);
    for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        nlmsgerr* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        close(fd);
        return e->error < 0 ? -e->error : 0;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        close(fd);
        return 0;
      }
    }
  }
}

}  // namespace mesh
