#include "bench/harness/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "io/base/errno.h"

namespace strata {
namespace {

// fork + exec with output to `log`; the child dies with its parent.
Result<pid_t> Spawn(const std::vector<std::string>& argv,
                    const std::string& log) {
  if (argv.empty()) return InvalidArgument("empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return PosixError("fork " + argv[0], errno);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string Describe(int status) {
  if (WIFEXITED(status))
    return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool Connectable(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

Status RunCommand(const std::vector<std::string>& argv,
                  const std::string& log) {
  STRATA_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, log));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return PosixError("wait for " + argv[0], errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return Status(Code::kInternal, "`" + cmd + "` failed (" + Describe(status) +
                                     "; output in " + log + ")");
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& argv, const std::string& socket,
    const std::string& log) {
  STRATA_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, log));
  std::unique_ptr<ServerProcess> p(new ServerProcess(pid, log));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Connectable(socket)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      return Status(Code::kUnavailable, argv[0] + " exited before serving " +
                                            socket + " (" + Describe(status) +
                                            "; log in " + log + ")");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kDeadlineExceeded,
                    argv[0] + " did not serve " + socket +
                        " within 30 s (log in " + log + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return p;
}

Status ServerProcess::Stop() {
  if (pid_ < 0) return Status::Ok();
  pid_t pid = pid_;
  pid_ = -1;
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
      return Status(Code::kInternal, "server stopped with " + Describe(status) +
                                         " (log in " + log_ + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return Status(Code::kDeadlineExceeded,
                "server ignored SIGTERM for 10 s (log in " + log_ + ")");
}

ServerProcess::~ServerProcess() { Stop().IgnoreError(); }

}  // namespace strata
