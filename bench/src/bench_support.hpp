#pragma once
// What the benchmarks share: the private services' secrets and ports (as ./gxhub sets
// them), a scratch database of their own, child processes stopped by PID, percentiles
// and the machine's load. No GoogleTest: a benchmark is not a test.
// Thread-safety: none needed; each bench drives these from its main thread.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace hub::bench {

std::filesystem::path source_root();
std::filesystem::path var_dir();
std::string read_text(const std::filesystem::path& p);
// A secret of var/secrets, trimmed; throws with a hint when the services never ran.
std::string secret(const std::string& name);
int db_port();
int mq_port();
std::string conninfo(const std::string& user, const std::string& password, const std::string& dbname,
                     const std::string& application = "bench");

// Created from template0, owned by gx_owner; dropped (WITH FORCE) by the destructor
// unless keep() was called (to look at it after the run).
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& name() const { return name_; }
  std::string owner() const;
  std::string app() const;
  void keep() { keep_ = true; }

 private:
  std::string name_, owner_pw_, app_pw_;
  bool keep_ = false;
};

// A program started with its output in a log file, stopped by PID (SIGTERM, then
// SIGKILL after `grace`) when destroyed.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log,
        const std::map<std::string, std::string>& env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  // The exit code, or -1 when it did not end within `timeout`.
  int wait(std::chrono::milliseconds timeout);
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
};

// Runs a program to its end; returns its exit code and output.
int run(const std::vector<std::string>& argv, std::string* output = nullptr,
        const std::map<std::string, std::string>& env = {});

int free_tcp_port();
double percentile(std::vector<double> v, double p);  // p in 0..100; 0 for an empty vector
double load_average_1m();
// Resident set size now and its peak (VmRSS, VmHWM) of a process, in KiB.
std::pair<long, long> rss_kib(pid_t pid);
// CPU time (user + system) a process has used so far, in seconds.
double cpu_seconds(pid_t pid);

}  // namespace hub::bench
