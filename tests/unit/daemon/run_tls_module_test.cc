// The https half of the HTTP client is a module loaded on first use (core/http_tls_module.h):
// a daemon whose config has no https URL never maps OpenSSL; a reload to an https Alertmanager
// loads it and pushes through it; a module that cannot be found or is not ours is an error that
// says where it looked, at check-config and at reload, and the daemon keeps running.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/http_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"
#include "tests/support/tls_test_certs.h"

namespace oomsentinel {
namespace {

using testing::freeLoopbackPort;

bool tlsEventually(const std::function<bool()>& f) { return testing::eventually(f, 500); }
std::string scrapeMetrics(int port) { return testing::httpGetLocal(port, "/metrics"); }
using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::Not;
using testing::ServerStep;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

// One target over the rule's threshold, so that an alert fires at once.
void writeTree(const TempDir& dir) {
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "94371840\n");
  dir.write("cg/app/memory.max", "104857600\n");
  dir.write("cg/app/memory.stat", "anon 94371840\ninactive_file 0\n");
  dir.write("cg/app/cgroup.procs", "");
}

std::string config(int metrics_port, const std::string& alertmanager) {
  std::string out =
      "alerts:\n  metrics: {listen: '127.0.0.1:" + std::to_string(metrics_port) + "'}\n";
  if (!alertmanager.empty()) out += "  alertmanager:\n" + alertmanager;
  return out +
         "targets:\n  - name: app\n    cgroup: /app\n"
         "rules:\n  - name: high\n    expr: working_set_ratio > 50%\n    actions: [log, alert]\n";
}

void writeTlsConfig(const TempDir& dir, const std::string& text) {
  dir.write("c.yaml.new", text);
  std::rename((dir.path() + "/c.yaml.new").c_str(), (dir.path() + "/c.yaml").c_str());
}

// OOMSENTINEL_TLS_MODULE=module_env in its environment, unless null.
testing::DaemonOptions tlsDaemonOptions(const TempDir& dir, const std::string& log,
                                        const char* module_env) {
  testing::DaemonOptions o{testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log};
  if (module_env) o.env.emplace_back("OOMSENTINEL_TLS_MODULE", module_env);
  return o;
}

bool maps(pid_t pid, const std::string& what) {
  return slurp("/proc/" + std::to_string(pid) + "/maps").find(what) != std::string::npos;
}

TEST(TlsModule, APlainDaemonNeverMapsOpenSslAndAnHttpsReloadLoadsItAndPushes) {
  testing::TestCa ca;
  testing::TlsFiles cert = ca.issue("am", {"IP:127.0.0.1"});
  HttpTestServer am({ServerStep::reply(200, "")}, testing::ServerTls{cert.cert, cert.key, ""});
  HttpTestServer plain_am({ServerStep::reply(200, "")});
  TempDir dir;
  writeTree(dir);
  int port = freeLoopbackPort();
  writeTlsConfig(dir, config(port, "    urls: ['" + plain_am.url() + "']\n"));
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(tlsDaemonOptions(dir, log, nullptr));
  const pid_t pid = daemon.pid();
  // The plain push happens: the HTTP client works, and OpenSSL is still not there.
  ASSERT_TRUE(tlsEventually([&] { return !plain_am.requests().empty(); })) << slurp(log);
  EXPECT_FALSE(maps(pid, "oomsentinel-tls.so"));
  EXPECT_FALSE(maps(pid, "libssl.so"));
  EXPECT_FALSE(maps(pid, "libcrypto.so"));

  writeTlsConfig(dir, config(port, "    urls: ['" + am.url() + "']\n    tls: {ca_file: '" +
                                       ca.files().cert + "'}\n"));
  daemon.signal(SIGHUP);
  ASSERT_TRUE(tlsEventually([&] {
    return scrapeMetrics(port).find("oomsentinel_config_reloads_total{result=\"ok\"} 1") !=
           std::string::npos;
  })) << slurp(log);
  EXPECT_TRUE(maps(pid, "oomsentinel-tls.so"));
  EXPECT_TRUE(maps(pid, "libssl.so"));
  // The firing alert is pushed again to the new receiver, over TLS, from the module's code on
  // the daemon's io_context.
  ASSERT_TRUE(tlsEventually([&] { return !am.requests().empty(); })) << slurp(log);
  EXPECT_THAT(am.requests()[0], HasSubstr("POST /api/v2/alerts"));
  EXPECT_THAT(am.requests()[0], HasSubstr("\"alertname\":\"high\""));

  int status = daemon.stop();
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status << slurp(log);
}

TEST(TlsModule, AMissingModuleIsAnErrorThatSaysWhereAndTheDaemonKeepsItsConfig) {
  TempDir dir;
  writeTree(dir);
  int port = freeLoopbackPort();
  std::string https_am = "    urls: ['https://127.0.0.1:9']\n";
  std::string missing = dir.path() + "/nowhere/oomsentinel-tls.so";
  dir.write("https.yaml", config(port, https_am));
  dir.write("plain.yaml", config(port, "    urls: ['http://127.0.0.1:9']\n"));

  auto check = [&](const std::string& file, const std::string& module) {
    return testing::runCommand({"/usr/bin/env", "OOMSENTINEL_TLS_MODULE=" + module,
                                testing::binaryPath(), "check-config", dir.path() + "/" + file},
                               30);
  };
  auto refused = check("https.yaml", missing);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.out + refused.err, HasSubstr("https needs oomsentinel's TLS module"));
  EXPECT_THAT(refused.out + refused.err, HasSubstr(missing + ": No such file or directory"));
  // A plain config never looks for it.
  auto plain = check("plain.yaml", missing);
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  // A shared object that is not the module: said so, not loaded blindly.
  auto wrong = check("https.yaml", "/lib/x86_64-linux-gnu/libz.so.1");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.out + wrong.err, HasSubstr("not oomsentinel's TLS module"));
  // The module of this build, named explicitly: accepted.
  auto ours = check("https.yaml", OOMSENTINEL_TLS_MODULE_FILE);
  EXPECT_EQ(ours.exit_code, 0) << ours.out << ours.err;

  // A running daemon asked to reload into https without the module keeps its Alertmanager
  // settings (the rest of the reload applies, as with any bad Alertmanager setting).
  writeTlsConfig(dir, slurp(dir.path() + "/plain.yaml"));
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(tlsDaemonOptions(dir, log, missing.c_str()));
  const pid_t pid = daemon.pid();
  ASSERT_TRUE(tlsEventually([&] { return !scrapeMetrics(port).empty(); })) << slurp(log);
  writeTlsConfig(dir, slurp(dir.path() + "/https.yaml"));
  daemon.signal(SIGHUP);
  ASSERT_TRUE(tlsEventually([&] {
    return slurp(log).find("config reloaded") != std::string::npos;
  })) << slurp(log);
  EXPECT_THAT(slurp(log), HasSubstr("alertmanager settings not changed"));
  EXPECT_THAT(slurp(log), HasSubstr("https needs oomsentinel's TLS module"));
  EXPECT_THAT(scrapeMetrics(port), HasSubstr("alertmanager=\"http://127.0.0.1:9/api/v2/alerts\""));
  EXPECT_FALSE(maps(pid, "libssl.so"));
  EXPECT_TRUE(daemon.running()) << "the daemon stopped";
  daemon.stop();
}

}  // namespace
}  // namespace oomsentinel
