/**
 * Fault injection from outside the process: a small LD_PRELOAD library, compiled here with the C
 * compiler node-gyp needs anyway, that wraps libc's socket calls in a child process (a `mesh node`)
 * and makes them fail. The production code has no test hooks: it sees what a broken kernel would
 * show it. Configured by the child's environment:
 *
 *   MESH_FAULT_RECVMMSG_PORT   recvmmsg on the UDP socket bound to this port fails ...
 *   MESH_FAULT_RECVMMSG_ERRNO  ... with this errno (a number) ...
 *   MESH_FAULT_RECVMMSG_COUNT  ... this many times (-1: every time), without reading the datagram,
 *                              so the socket stays readable as with a real persistent error ...
 *   MESH_FAULT_ARM             ... once this file exists (unset: from the start).
 *   MESH_FAULT_NETLINK         route netlink sockets: requests are never sent to the kernel, and
 *                              replies are `silent` (none: the read times out), `short` (7 bytes),
 *                              `overlong` (a header claiming more than the datagram holds),
 *                              `truncated-error` (an NLMSG_ERROR for our request without its error
 *                              code) or `random` (random bytes of random length).
 *   MESH_FAULT_PROGRAM         only a process of this name is faulted (e.g. "node", not `ip netns exec`).
 *   MESH_FAULT_COUNTERS        a 32-byte file the library counts into (little-endian uint64s):
 *                              recvmmsg faults injected, recvmmsg calls on the port passed through,
 *                              netlink requests swallowed, netlink replies forged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FAULTS, PASSED, SWALLOWED, FORGED };
static uint64_t *counters;
static int recv_port = -1, recv_errno = EIO;
static long recv_count = -1;
static const char *arm_path, *netlink_mode;
static unsigned char netlink_fd[65536];
static uint32_t netlink_seq[65536];

__attribute__((constructor)) static void init(void) {
  const char *v = getenv("MESH_FAULT_PROGRAM");
  // Only the named program is faulted, not the tools that exec it (ip netns exec).
  if (v && strcmp(v, program_invocation_short_name) != 0) return;
  if ((v = getenv("MESH_FAULT_RECVMMSG_PORT"))) recv_port = atoi(v);
  if ((v = getenv("MESH_FAULT_RECVMMSG_ERRNO"))) recv_errno = atoi(v);
  if ((v = getenv("MESH_FAULT_RECVMMSG_COUNT"))) recv_count = atol(v);
  arm_path = getenv("MESH_FAULT_ARM");
  netlink_mode = getenv("MESH_FAULT_NETLINK");
  if ((v = getenv("MESH_FAULT_COUNTERS"))) {
    int fd = open(v, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      void *p = mmap(0, 32, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) counters = p;
      close(fd);
    }
  }
}

static void count(int which) {
  if (counters) __atomic_fetch_add(&counters[which], 1, __ATOMIC_RELAXED);
}

static int armed(void) { return !arm_path || access(arm_path, F_OK) == 0; }

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return -1;
}

int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags, struct timespec *timeout) {
  static int (*real)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
  static long injected;
  if (!real) real = dlsym(RTLD_NEXT, "recvmmsg");
  if (recv_port >= 0 && bound_port(fd) == recv_port) {
    if (armed() && (recv_count < 0 || injected < recv_count)) {
      injected++;
      count(FAULTS);
      errno = recv_errno;
      return -1;
    }
    count(PASSED);
  }
  return real(fd, msgs, n, flags, timeout);
}

int socket(int domain, int type, int protocol) {
  static int (*real)(int, int, int);
  if (!real) real = dlsym(RTLD_NEXT, "socket");
  int fd = real(domain, type, protocol);
  if (fd >= 0 && fd < 65536) netlink_fd[fd] = netlink_mode && domain == AF_NETLINK;
  return fd;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen) {
  static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  if (!real) real = dlsym(RTLD_NEXT, "sendto");
  if (fd >= 0 && fd < 65536 && netlink_fd[fd]) {
    if (len >= sizeof(struct nlmsghdr)) netlink_seq[fd] = ((const struct nlmsghdr *)buf)->nlmsg_seq;
    count(SWALLOWED);
    return (ssize_t)len;
  }
  return real(fd, buf, len, flags, to, tolen);
}

static ssize_t forge(int fd, unsigned char *buf, size_t cap) {
  size_t n = 0;
  if (!strcmp(netlink_mode, "short")) {
    n = 7;
    memset(buf, 0x5a, n);
  } else if (!strcmp(netlink_mode, "overlong")) {
    struct nlmsghdr h = {.nlmsg_len = 4096, .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = netlink_seq[fd]};
    n = sizeof(h) + 4;
    memset(buf, 0, n);
    memcpy(buf, &h, sizeof(h));
  } else if (!strcmp(netlink_mode, "truncated-error")) {
    struct nlmsghdr h = {.nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = netlink_seq[fd]};
    n = sizeof(h);
    memcpy(buf, &h, n);
  } else {
    n = (size_t)(random() % 8192);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)random();
  }
  if (n > cap) n = cap;
  count(FORGED);
  return (ssize_t)n;
}

ssize_t recvfrom(int fd, void *buf, size_t cap, int flags, struct sockaddr *from, socklen_t *fromlen) {
  static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "recvfrom");
  if (fd >= 0 && fd < 65536 && netlink_fd[fd] && strcmp(netlink_mode, "silent") != 0) {
    if (from && fromlen && *fromlen >= sizeof(struct sockaddr_nl)) {
      struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
      memcpy(from, &kernel, sizeof(kernel));
      *fromlen = sizeof(kernel);
    }
    return forge(fd, buf, cap);
  }
  return real(fd, buf, cap, flags, from, fromlen);
}
`;

export interface FaultCounters {
  recvmmsgFaults: number;
  recvmmsgPassed: number;
  netlinkSwallowed: number;
  netlinkForged: number;
}

export interface FaultPreload {
  /** The compiled library, for LD_PRELOAD. */
  readonly library: string;
  /** A fresh counters file (for MESH_FAULT_COUNTERS) under the library's directory. */
  countersFile(name: string): string;
  readCounters(file: string): FaultCounters;
  /** A path under the library's directory, for MESH_FAULT_ARM. */
  path(name: string): string;
  remove(): void;
}

/** Compiles the fault library into a fresh temporary directory (remove() deletes it). */
export function buildFaultPreload(): FaultPreload {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-faults-'));
  try {
    const source = join(dir, 'faults.c');
    const library = join(dir, 'faults.so');
    writeFileSync(source, SOURCE);
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', '-o', library, source, '-ldl'], { stdio: 'pipe' });
    return {
      library,
      countersFile(name) {
        const file = join(dir, name);
        writeFileSync(file, Buffer.alloc(32));
        return file;
      },
      readCounters(file) {
        const b = readFileSync(file);
        const at = (i: number): number => Number(b.readBigUInt64LE(i * 8));
        return { recvmmsgFaults: at(0), recvmmsgPassed: at(1), netlinkSwallowed: at(2), netlinkForged: at(3) };
      },
      path: (name) => join(dir, name),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
