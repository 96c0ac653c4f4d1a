#include "bench_support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "hub/core/ids.hpp"
#include "hub/db/pg.hpp"

namespace hub::bench {

std::filesystem::path source_root() { return HUB_SOURCE_ROOT; }

std::filesystem::path var_dir() {
  if (const char* v = std::getenv("HUB_VAR"); v && *v) return v;
  return source_root() / "var";
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string secret(const std::string& name) {
  auto p = var_dir() / "secrets" / name;
  if (!std::filesystem::exists(p)) {
    throw std::runtime_error("no " + p.string() + ": start the private services first (./gxhub services start)");
  }
  std::string s = read_text(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

namespace {
int env_port(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}
}  // namespace

int db_port() { return env_port("HUB_DB_PORT", 55432); }
int mq_port() { return env_port("HUB_MQ_PORT", 55672); }

std::string conninfo(const std::string& user, const std::string& password, const std::string& dbname,
                     const std::string& application) {
  return "host=127.0.0.1 port=" + std::to_string(db_port()) + " dbname=" + dbname + " user=" + user +
         " password=" + password + " connect_timeout=10 application_name=" + application;
}

ScratchDatabase::ScratchDatabase(const std::string& prefix)
    : name_(prefix + "_" + random_hex_id().substr(0, 10)),
      owner_pw_(secret("pg_owner.password")),
      app_pw_(secret("pg_app.password")) {
  auto c = db::Connection::connect(conninfo("gx_owner", owner_pw_, "postgres"));
  c->exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
}

ScratchDatabase::~ScratchDatabase() {
  if (keep_) return;
  // A backend whose client just disconnected may still be exiting: try again for 10 s.
  for (int attempt = 0;; ++attempt) {
    try {
      auto c = db::Connection::connect(conninfo("gx_owner", owner_pw_, "postgres"));
      c->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
      return;
    } catch (const std::exception& e) {
      if (attempt >= 100) {
        std::fprintf(stderr, "bench: could not drop database %s: %s\n", name_.c_str(), e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

std::string ScratchDatabase::owner() const { return conninfo("gx_owner", owner_pw_, name_); }
std::string ScratchDatabase::app() const { return conninfo("gx_app", app_pw_, name_); }

Child::Child(const std::vector<std::string>& argv, const std::filesystem::path& log,
             const std::map<std::string, std::string>& env) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror("execv");
    ::_exit(127);
  }
}

Child::~Child() { stop(); }

bool Child::running() {
  if (exited_) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int Child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status_;
}

void Child::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || !running()) return;
  ::kill(pid_, SIGTERM);
  if (wait(grace) < 0 && running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

int run(const std::vector<std::string>& argv, std::string* output, const std::map<std::string, std::string>& env) {
  auto log = std::filesystem::temp_directory_path() / ("bench-run-" + random_hex_id().substr(0, 8) + ".log");
  int code;
  {
    Child c(argv, log, env);
    code = c.wait(std::chrono::minutes(10));
  }
  if (output != nullptr) *output = std::filesystem::exists(log) ? read_text(log) : "";
  std::filesystem::remove(log);
  return code;
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) ;
  if (idx > 0) --idx;
  return v[std::min(idx, v.size() - 1)];
}

double load_average_1m() {
  double l = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

std::pair<long, long> rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long rss = 0, hwm = 0;
  while (in >> key) {
    if (key == "VmRSS:") in >> rss;
    else if (key == "VmHWM:") in >> hwm;
  }
  return {rss, hwm};
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace hub::bench
