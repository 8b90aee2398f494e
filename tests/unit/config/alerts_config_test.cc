// The alerts: section: metrics.listen and alertmanager.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string allErrors(const ConfigLoad& load) {
  std::string out;
  for (const auto& e : load.errors) out += e.format() + "\n";
  return out;
}

TEST(AlertsConfig, MetricsAndAlertmanagerReadAndPrintBack) {
  ConfigLoad load = loadConfigText(
      "alerts:\n"
      "  metrics: {listen: '0.0.0.0:10087'}\n"
      "  alertmanager:\n"
      "    urls: [http://127.0.0.1:9093, 'http://am-2:9093']\n"
      "    resend_interval: 30s\n"
      "    timeout: 1s\n"
      "    bearer_token_file: /etc/oomsentinel/am-token\n"
      "    labels: {cluster: prod, region: eu}\n",
      "t.yaml");
  ASSERT_TRUE(load.config) << allErrors(load);
  const AlertsSpec& a = load.config->alerts;
  EXPECT_EQ(a.metrics_listen, "0.0.0.0:10087");
  EXPECT_THAT(a.alertmanager_urls, ElementsAre("http://127.0.0.1:9093/", "http://am-2:9093/"));
  EXPECT_EQ(a.resend_interval, 30s);
  EXPECT_EQ(a.alertmanager_timeout, 1s);
  EXPECT_EQ(a.bearer_token_file, "/etc/oomsentinel/am-token");
  EXPECT_EQ(a.static_labels.size(), 2u);
  ConfigLoad back = loadConfigText(printConfig(*load.config), "printed.yaml");
  ASSERT_TRUE(back.config) << allErrors(back) << printConfig(*load.config);
  EXPECT_EQ(back.config->alerts, a);
}

// The metrics port answers anyone who reaches it: without a host it is loopback, and the
// wildcard only when written.
TEST(AlertsConfig, MetricsListenWithoutAHostIsLoopback) {
  ConfigLoad load = loadConfigText("alerts:\n  metrics: {listen: ':10087'}\n", "t.yaml");
  ASSERT_TRUE(load.config) << allErrors(load);
  EXPECT_EQ(load.config->alerts.metrics_listen, "127.0.0.1:10087");
  ConfigLoad any = loadConfigText("alerts:\n  metrics: {listen: '0.0.0.0:10087'}\n", "t.yaml");
  ASSERT_TRUE(any.config) << allErrors(any);
  EXPECT_EQ(any.config->alerts.metrics_listen, "0.0.0.0:10087");
  ConfigLoad none = loadConfigText("alerts:\n  metrics: {}\n", "t.yaml");
  ASSERT_TRUE(none.config) << allErrors(none);
  EXPECT_EQ(none.config->alerts.metrics_listen, "") << "nothing served unless asked";
}

TEST(AlertsConfig, HttpsWithTlsSettingsReadAndPrintBack) {
  ConfigLoad load = loadConfigText(
      "alerts:\n"
      "  alertmanager:\n"
      "    urls: [https://am.example:9093]\n"
      "    tls:\n"
      "      ca_file: /etc/oomsentinel/ca.pem\n"
      "      cert_file: /etc/oomsentinel/client.pem\n"
      "      key_file: /etc/oomsentinel/client.key\n"
      "      server_name: alertmanager.monitoring.svc\n"
      "      insecure_skip_verify: false\n",
      "t.yaml");
  ASSERT_TRUE(load.config) << allErrors(load);
  const AlertsSpec& a = load.config->alerts;
  EXPECT_THAT(a.alertmanager_urls, ElementsAre("https://am.example:9093/"));
  EXPECT_EQ(a.tls.ca_file, "/etc/oomsentinel/ca.pem");
  EXPECT_EQ(a.tls.cert_file, "/etc/oomsentinel/client.pem");
  EXPECT_EQ(a.tls.key_file, "/etc/oomsentinel/client.key");
  EXPECT_EQ(a.tls.server_name, "alertmanager.monitoring.svc");
  EXPECT_FALSE(a.tls.insecure_skip_verify);
  ConfigLoad back = loadConfigText(printConfig(*load.config), "printed.yaml");
  ASSERT_TRUE(back.config) << allErrors(back) << printConfig(*load.config);
  EXPECT_EQ(back.config->alerts, a);
  ConfigLoad skip = loadConfigText(
      "alerts: {alertmanager: {urls: ['https://am'], tls: {insecure_skip_verify: true}}}\n", "t");
  ASSERT_TRUE(skip.config) << allErrors(skip);
  EXPECT_TRUE(skip.config->alerts.tls.insecure_skip_verify);
  EXPECT_THAT(printConfig(*skip.config), HasSubstr("insecure_skip_verify: true"));
}

TEST(AlertsConfig, Mistakes) {
  auto onlyError = [](const std::string& text) {
    ConfigLoad load = loadConfigText(text, "t.yaml");
    EXPECT_EQ(load.errors.size(), 1u) << allErrors(load);
    return load.errors.empty() ? ConfigError{} : load.errors[0];
  };
  EXPECT_THAT(onlyError("alerts: {metrics: {listen: 10087}}\n").message,
              HasSubstr("expected HOST:PORT such as 127.0.0.1:10087"));
  EXPECT_THAT(onlyError("alerts: {alertmanager: {urls: []}}\n").message,
              HasSubstr("a list of URLs"));
  EXPECT_THAT(onlyError("alerts: {alertmanager: {urls: ['ftp://am:9093']}}\n").message,
              HasSubstr("ftp"));
  EXPECT_THAT(
      onlyError("alerts: {alertmanager: {urls: ['http://am'], tls: {ca_file: /ca}}}\n").message,
      HasSubstr("tls is set but no URL is https://"));
  EXPECT_THAT(
      onlyError("alerts: {alertmanager: {urls: ['https://am'], tls: {cert_file: /c}}}\n").message,
      HasSubstr("give cert_file and key_file together"));
  EXPECT_THAT(
      onlyError("alerts: {alertmanager: {urls: ['https://am'], tls: {ca_file: ca.pem}}}\n").message,
      HasSubstr("must be an absolute path"));
  EXPECT_THAT(
      onlyError("alerts: {alertmanager: {urls: ['https://am'], tls: {verify: no}}}\n").message,
      HasSubstr("verify"));
  EXPECT_THAT(onlyError("alerts: {alertmanager: {urls: ['http://am'], bearer_token_file: /t, "
                        "basic_auth_file: /b}}\n")
                  .message,
              HasSubstr("not both"));
  EXPECT_THAT(
      onlyError("alerts: {alertmanager: {urls: ['http://am'], resend_interval: 0s}}\n").message,
      HasSubstr("at least 1s"));
}

}  // namespace
}  // namespace oomsentinel
