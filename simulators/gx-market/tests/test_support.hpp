#pragma once
// Helpers of the simulator's own tests. They do not use tests/support (which links the hub's
// core): the simulator shares no code with the hub, its tests included.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gxm::testing {

std::filesystem::path source_root();
// ../shared/vectors beside the repository, if present.
std::optional<std::filesystem::path> shared_vectors_dir();

// A fresh folder, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& p, const std::string& text);
std::string read_file(const std::filesystem::path& p);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs argv to completion (fork/exec), with optional stdin text.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {});

// The dev PKI: var/pki when `./gxhub pki` made it, else one made once per test process by
// certs/make-dev-pki.sh in a temporary folder.
const std::filesystem::path& dev_pki();

int free_tcp_port();

// The last non-empty line of a text.
std::string last_line(const std::string& text);

}  // namespace gxm::testing
