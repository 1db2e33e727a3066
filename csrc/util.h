// Small runtime helpers: OS randomness and a deterministic static-partition thread loop.
#pragma once

#include <cstddef>
#include <functional>

namespace fbh {

/// Fill buf with n bytes from the OS CSPRNG (getrandom(2), else /dev/urandom); aborts on failure.
void os_random(void* buf, std::size_t n);

/// Call fn(start, size) over [begin, end) cut into ceil(n / max) chunks of equal size (+-1):
/// no chunk is much smaller than the others, so none loses the batching that chunks buy.
template <class F>
void for_chunks(std::size_t begin, std::size_t end, std::size_t max, F&& fn) {
  const std::size_t n = end - begin;
  const std::size_t nc = (n + max - 1) / max;
  for (std::size_t c = 0; c < nc; ++c) {
    const std::size_t s = begin + n * c / nc, e = begin + n * (c + 1) / nc;
    fn(s, e - s);
  }
}

/// Number of threads to use for n items: at most `threads`, at least one, and no more than
/// one per `grain` items (thread start-up is not free).
int thread_count(std::size_t n, int threads, std::size_t grain);

/// Run fn(t, begin, end) over [0, n) split into `nthreads` contiguous ranges, one per thread
/// (the caller's thread runs range 0). Ranges depend only on n and nthreads. An exception
/// thrown by fn in any thread, or std::system_error when a thread cannot start, is rethrown
/// here after every started thread has joined.
void parallel_for(std::size_t n, int nthreads,
                  const std::function<void(int, std::size_t, std::size_t)>& fn);

}  // namespace fbh
