#include "hub/testing/test_env.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "hub/core/ids.hpp"

namespace hub::testing {

std::filesystem::path source_root() { return HUB_SOURCE_ROOT; }

std::filesystem::path var_dir() {
  if (const char* v = std::getenv("HUB_VAR"); v && *v) return v;
  return source_root() / "var";
}

std::optional<std::filesystem::path> shared_vectors_dir() {
  auto p = source_root().parent_path() / "shared" / "vectors";
  if (std::filesystem::is_directory(p)) return p;
  return std::nullopt;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::atoi(v) : fallback;
}
std::string secret(const std::string& name) {
  auto p = var_dir() / "secrets" / name;
  if (!std::filesystem::exists(p)) return {};  // checked where it is needed
  std::string s = read_file(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::string Services::conninfo(const std::string& user, const std::string& password,
                               const std::string& dbname) const {
  return "host=" + db_host + " port=" + std::to_string(db_port) + " dbname=" + dbname +
         " user=" + user + " password=" + password + " connect_timeout=5";
}

const Services& services() {
  static const Services s = [] {
    Services out;
    out.db_port = env_int("HUB_DB_PORT", 55432);
    out.mq_port = env_int("HUB_MQ_PORT", 55672);
    out.owner_password = secret("pg_owner.password");
    out.app_password = secret("pg_app.password");
    out.super_password = secret("pg_super.password");
    out.mq_password = secret("mq.password");
    return out;
  }();
  return s;
}

ScratchDatabase::ScratchDatabase(const std::string& prefix)
    : name_(prefix + "_" + random_hex_id().substr(0, 10)) {
  const auto& s = services();
  if (s.owner_password.empty()) {
    throw std::runtime_error("no " + (var_dir() / "secrets/pg_owner.password").string() +
                             ": start the private services first (./gxhub services start)");
  }
  auto r = run_command({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        s.conninfo("gx_owner", s.owner_password, "postgres"), "-c",
                        "CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'"});
  if (r.exit_code != 0) throw std::runtime_error("cannot create database " + name_ + ": " + r.output);
}

ScratchDatabase::~ScratchDatabase() {
  const auto& s = services();
  // The superuser: FORCE must end gx_app sessions (a test's hubd, a killed client).
  run_command({"psql", "-X", "-q", s.conninfo("gx_super", s.super_password, "postgres"), "-c",
               "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"});
}

std::string ScratchDatabase::owner_conninfo() const {
  return services().conninfo("gx_owner", services().owner_password, name_);
}
std::string ScratchDatabase::app_conninfo() const {
  return services().conninfo("gx_app", services().app_password, name_);
}

TempDir::TempDir() {
  auto base = std::filesystem::temp_directory_path() / ("gxhub-test-" + random_hex_id().substr(0, 12));
  std::filesystem::create_directories(base);
  path_ = base;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env,
                           const std::filesystem::path& log_file,
                           const std::filesystem::path& cwd) {
  std::filesystem::create_directories(log_file.parent_path());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (devnull >= 0) ::dup2(devnull, 0);
    if (::chdir(cwd.c_str()) != 0) _exit(126);
    // Hermetic children: no HUB_* configuration override leaks in from the caller (e.g.
    // HUB_HTTPS_PORT exported by ./gxhub test) unless the test passes it.
    std::vector<std::string> inherited;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      if (kv.rfind("HUB_", 0) == 0 && kv.rfind("HUB_VAR=", 0) != 0) {
        inherited.push_back(kv.substr(0, kv.find('=')));
      }
    }
    for (const auto& name : inherited) ::unsetenv(name.c_str());
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
}

bool ChildProcess::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return false;
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env) {
  TempDir dir;
  auto log = dir.path() / "out.log";
  CommandResult result;
  {
    ChildProcess child(argv, env, log);
    auto code = child.wait_exit(std::chrono::minutes(5));
    result.exit_code = code.value_or(-1);
  }
  result.output = read_file(log);
  return result;
}

bool wait_until(const std::function<bool()>& probe, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return probe();
}

}  // namespace hub::testing
