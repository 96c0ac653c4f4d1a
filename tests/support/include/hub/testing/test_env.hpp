#pragma once
// Helpers for tests that need the real private services, free ports, temporary folders
// and child processes. Tests are hermetic: every server they start listens on 127.0.0.1
// on a free port and is stopped by PID.

#include <chrono>
#include <functional>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace hub::testing {

std::filesystem::path source_root();
// The data root of the private services ($HUB_VAR, else <source_root>/var).
std::filesystem::path var_dir();
// ../shared/vectors beside the repository, if present.
std::optional<std::filesystem::path> shared_vectors_dir();

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& text);

// A port that was free a moment ago on 127.0.0.1.
int free_tcp_port();

// Connection facts of the private services, as the project's scripts set them up.
struct Services {
  std::string db_host = "127.0.0.1";
  int db_port = 55432;
  std::string db_name = "gxhub";
  std::string owner_password;  // gx_owner
  std::string app_password;    // gx_app
  std::string super_password;  // gx_super
  int mq_port = 55672;
  std::string mq_user = "gxhub";
  std::string mq_password;

  std::string conninfo(const std::string& user, const std::string& password,
                       const std::string& dbname) const;
};
const Services& services();

// A database of its own for one test suite, created from template0 and owned by gx_owner;
// dropped by the destructor.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& name() const { return name_; }
  std::string owner_conninfo() const;
  std::string app_conninfo() const;

 private:
  std::string name_;
};

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

// A child process started with fork/exec, its output appended to a log file, with no
// HUB_* variables from the caller but those in `env` (and HUB_VAR). The
// destructor kills it (SIGKILL) if it is still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::filesystem::path& log_file,
               const std::filesystem::path& cwd = source_root());
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs a command to completion, returning its exit code and captured stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {});

// Polls `probe` until it returns true or the timeout passes.
bool wait_until(const std::function<bool()>& probe, std::chrono::milliseconds timeout);

}  // namespace hub::testing
