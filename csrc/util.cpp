// OS randomness and thread helpers.
#include "util.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/random.h>
#endif

namespace fbh {

void os_random(void* buf, std::size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
#if defined(__linux__)
  while (n > 0) {
    const ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      break;  // fall back to /dev/urandom below (e.g. ENOSYS on old kernels)
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  if (n == 0) return;
#endif
  std::FILE* f = std::fopen("/dev/urandom", "rb");
  if (f == nullptr || std::fread(p, 1, n, f) != n) std::abort();  // no randomness: never continue
  std::fclose(f);
}

int thread_count(std::size_t n, int threads, std::size_t grain) {
  if (threads < 1) threads = 1;
  const std::size_t by_size = grain == 0 ? n : (n + grain - 1) / grain;
  std::size_t t = static_cast<std::size_t>(threads);
  if (by_size < t) t = by_size;
  return t < 1 ? 1 : static_cast<int>(t);
}

void parallel_for(std::size_t n, int nthreads,
                  const std::function<void(int, std::size_t, std::size_t)>& fn) {
  if (nthreads <= 1 || n == 0) {
    fn(0, 0, n);
    return;
  }
  const auto nt = static_cast<std::size_t>(nthreads);
  auto begin_of = [&](std::size_t t) { return n * t / nt; };
  // An exception in a worker (bad_alloc, ...) is caught there and rethrown here after every
  // thread has joined: escaping a std::thread would call std::terminate.
  std::vector<std::exception_ptr> errors(nt);
  auto run = [&](std::size_t t) {
    try {
      fn(static_cast<int>(t), begin_of(t), begin_of(t + 1));
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  std::exception_ptr start_error;
  try {
    pool.reserve(nt - 1);
    for (std::size_t t = 1; t < nt; ++t) pool.emplace_back(run, t);
  } catch (...) {
    start_error = std::current_exception();  // e.g. std::system_error: no thread available
  }
  if (!start_error) run(0);
  for (auto& th : pool) th.join();
  if (start_error) std::rethrow_exception(start_error);
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace fbh
