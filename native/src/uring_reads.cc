#include "uring_reads.h"

#include <linux/fs.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace mesh {

bool UringReads::Open() noexcept {
  if (IsOpen()) return true;
  io_uring_params p{};
  int fd = static_cast<int>(syscall(__NR_io_uring_setup, kEntries, &p));
  if (fd < 0) return false;
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
    ::close(fd);
    return false;
  }
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  size_t size = sq_size > cq_size ? sq_size : cq_size;
  void* rings = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (rings == MAP_FAILED) {
    ::close(fd);
    return false;
  }
  size_t sqes_size = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    munmap(rings, size);
    ::close(fd);
    return false;
  }
  char* base = static_cast<char*>(rings);
  ring_fd_ = fd;
  rings_ = rings;
  rings_size_ = size;
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  sqes_size_ = sqes_size;
  sq_head_ = reinterpret_cast<unsigned*>(base + p.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(base + p.sq_off.tail);
  sq_mask_ = reinterpret_cast<unsigned*>(base + p.sq_off.ring_mask);
  sq_array_ = reinterpret_cast<unsigned*>(base + p.sq_off.array);
  cq_head_ = reinterpret_cast<unsigned*>(base + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(base + p.cq_off.tail);
  cq_mask_ = reinterpret_cast<unsigned*>(base + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(base + p.cq_off.cqes);
  return true;
}

void UringReads::Close() noexcept {
  if (!IsOpen()) return;
  munmap(sqes_, sqes_size_);
  munmap(rings_, rings_size_);
  ::close(ring_fd_);
  ring_fd_ = -1;
}

int UringReads::Enter(unsigned submit, unsigned wait) noexcept {
  long rc = syscall(__NR_io_uring_enter, ring_fd_, submit, wait, wait > 0 ? IORING_ENTER_GETEVENTS : 0, nullptr, 0);
  return rc < 0 ? -errno : static_cast<int>(rc);
}

int UringReads::Read(int fd, char* base, size_t frame_size, unsigned k, int* results) noexcept {
  if (!IsOpen() || k == 0 || k > kEntries) return -EINVAL;
  // Only this thread writes the SQ tail and the CQ head; the kernel moves the SQ head and CQ tail.
  unsigned tail = *sq_tail_;
  unsigned mask = *sq_mask_;
  for (unsigned i = 0; i < k; i++) {
    unsigned slot = (tail + i) & mask;
    io_uring_sqe* sqe = &sqes_[slot];
    std::memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_READ;
    sqe->fd = fd;
    sqe->addr = reinterpret_cast<uint64_t>(base + i * frame_size);
    sqe->len = static_cast<uint32_t>(frame_size);
    sqe->off = static_cast<uint64_t>(-1);  // no file position: a TUN is a stream of packets
    sqe->rw_flags = RWF_NOWAIT;
    sqe->user_data = i;
    sq_array_[slot] = slot;
    results[i] = -EAGAIN;
  }
  __atomic_store_n(sq_tail_, tail + k, __ATOMIC_RELEASE);
  int failed = 0;
  int rc;
  do rc = Enter(k, k);
  while (rc == -EINTR && __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE) != tail + k);
  unsigned submitted = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE) - tail;
  if (submitted < k) {
    // The kernel took only part (or none): take the rest back so that no stale entry goes later.
    __atomic_store_n(sq_tail_, tail + submitted, __ATOMIC_RELEASE);
    failed = rc < 0 ? rc : -EIO;
  }
  // Every submitted read completes inside the call (RWF_NOWAIT); reap them all before returning.
  unsigned reaped = 0;
  while (reaped < submitted) {
    unsigned head = *cq_head_;
    unsigned ctail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    for (; head != ctail; head++) {
      const io_uring_cqe& cqe = cqes_[head & *cq_mask_];
      if (cqe.user_data < k) results[cqe.user_data] = cqe.res;
      reaped++;
    }
    __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
    if (reaped >= submitted) break;
    rc = Enter(0, submitted - reaped);
    if (rc < 0 && rc != -EINTR) return rc;
  }
  return failed;
}

}  // namespace mesh
