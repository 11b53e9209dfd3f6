// libFuzzer target: the examples' command-line parser (examples/common/cli.hpp).
// The input, split at NUL bytes, is argv[1..]; the parser must answer Ok,
// Help or Error (with a message), never throw or crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../../examples/common/cli.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args{"prog"};
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) args.push_back(cur), cur.clear();
    else cur += static_cast<char>(data[i]);
  }
  args.push_back(cur);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int epochs = 3;
  double lr = 0.1;
  std::uint64_t seed = 1;
  std::string out = "out";
  bool quick = false;
  std::vector<std::string> files;
  cli::Cli c("prog", "fuzzed");
  c.option("--epochs", &epochs, "N", "epochs").option("--lr", &lr, "X", "rate");
  c.option("--seed", &seed, "S", "seed").option("--out", &out, "DIR", "output");
  c.flag("--quick", &quick, "quick");
  c.positional(&files, "FILE");
  const auto r = c.try_parse(static_cast<int>(argv.size()), argv.data());
  if (r == cli::Cli::Result::Error && c.error().empty()) std::abort();
  return 0;
}
