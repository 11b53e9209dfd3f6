// libFuzzer target: the class-list (classid.txt) and split-file parsers.
// Rejection must be an nn::data::ImageError.
#include <nn/nn.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemFile f(data, size);
  std::vector<std::string> names;
  fuzz::expect_only<nn::data::ImageError>([&] { names = nn::data::read_class_ids(f.path()); });
  fuzz::expect_only<nn::data::ImageError>([&] {
    auto list = nn::data::read_split_file(f.path(), "images", names);
    if (list.paths.size() != list.labels.size()) std::abort();
    for (int l : list.labels)
      if (l < 0 || l >= static_cast<int>(list.class_names.size())) std::abort();
  });
  return 0;
}
