// Batched non-blocking reads through io_uring: one io_uring_enter reads up to kEntries packets from
// a TUN, where read(2) takes one system call per packet (1.25 us each on a PVM guest, more than the
// rest of a small packet's work). Every read is RWF_NOWAIT, so an empty queue completes at once with
// -EAGAIN instead of waiting, and all of them complete inside the call: no buffer is written after
// Read returns. Raw system calls and <linux/io_uring.h>, no liburing.
#pragma once

#include <cstddef>

struct io_uring_sqe;
struct io_uring_cqe;

namespace mesh {

class UringReads {
 public:
  static constexpr unsigned kEntries = 16;

  UringReads() = default;
  ~UringReads() { Close(); }
  UringReads(const UringReads&) = delete;
  UringReads& operator=(const UringReads&) = delete;

  // Sets up the ring; false when the kernel has no io_uring, refuses it (seccomp, the
  // kernel.io_uring_disabled sysctl) or lacks what Read needs (one mmap for both rings: 5.4+).
  bool Open() noexcept;
  bool IsOpen() const noexcept { return ring_fd_ >= 0; }
  void Close() noexcept;

  // Reads into `k` (1..kEntries) frames of `frame_size` bytes from `base` on, in order: results[i]
  // is the byte count read into frame i or -errno (-EAGAIN: the queue was empty; -EOPNOTSUPP or
  // -EINVAL: this kernel cannot do such a read). Returns 0, or -errno when the ring failed (frames
  // whose result is not -EAGAIN were read all the same).
  int Read(int fd, char* base, size_t frame_size, unsigned k, int* results) noexcept;

 private:
  int Enter(unsigned submit, unsigned wait) noexcept;

  int ring_fd_ = -1;
  void* rings_ = nullptr;
  size_t rings_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  unsigned *sq_head_ = nullptr, *sq_tail_ = nullptr, *sq_mask_ = nullptr, *sq_array_ = nullptr;
  unsigned *cq_head_ = nullptr, *cq_tail_ = nullptr, *cq_mask_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace mesh
