// tests/fuzz/fuzz_util.hpp — shared pieces of the libFuzzer targets.
// Each target feeds its input to one of nn's parsers. The parser may reject
// the input only with its documented exception; any other exception, a crash,
// a sanitizer report, a leak or a timeout is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

namespace fuzz {

// The bytes as a file that the library opens by path: an anonymous memory
// file (memfd), reached as /proc/self/fd/N. Closed when the object dies.
class MemFile {
 public:
  MemFile(const std::uint8_t* data, std::size_t size) {
    fd_ = ::memfd_create("nn-fuzz", 0);
    if (fd_ < 0) std::abort();
    std::size_t done = 0;
    while (done < size) {
      const ssize_t w = ::write(fd_, data + done, size - done);
      if (w <= 0) std::abort();
      done += static_cast<std::size_t>(w);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Runs f; returns normally if f succeeds or throws an Allowed exception,
// aborts (a finding) on any other exception.
template <class Allowed, class Fn>
void expect_only(Fn&& f) {
  try {
    f();
  } catch (const Allowed&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: undocumented exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace fuzz
