// The alerts: section: alerts.metrics.listen and alerts.alertmanager (config/loader.h).
#include <algorithm>
#include <cstdlib>

#include "config/loader.h"

namespace oomsentinel::config_internal {

namespace {
const std::vector<std::string> kAlertsKeys = {"metrics", "alertmanager"};
const std::vector<std::string> kAlertmanagerKeys = {
    "urls", "resend_interval", "timeout", "bearer_token_file", "basic_auth_file", "labels", "tls"};
const std::vector<std::string> kTlsKeys = {"ca_file", "cert_file", "key_file", "server_name",
                                           "insecure_skip_verify"};
const std::vector<std::string> kMetricsKeys = {"listen"};
}  // namespace

void Loader::readAlerts(const Entry& e, AlertsSpec& a) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    typeError(e, "a map with the keys " + listNames(kAlertsKeys));
    return;
  }
  auto keys = readMap(e.value, e.path, kAlertsKeys);
  if (const Entry* am = find(keys, "alertmanager")) readAlertmanager(*am, a);
  const Entry* m = find(keys, "metrics");
  if (!m || m->value.IsNull()) return;
  if (!m->value.IsMap()) {
    typeError(*m, "a map with the keys " + listNames(kMetricsKeys));
    return;
  }
  auto mk = readMap(m->value, m->path, kMetricsKeys);
  if (const Entry* l = find(mk, "listen")) readMetricsListen(*l, a);
}

void Loader::readMetricsListen(const Entry& l, AlertsSpec& a) {
  if (!requireScalar(l, "HOST:PORT such as 127.0.0.1:10087")) return;
  const std::string& v = l.value.Scalar();
  std::size_t colon = v.rfind(':');
  long port = -1;
  if (colon != std::string::npos && colon + 1 < v.size()) {
    char* end = nullptr;
    port = std::strtol(v.c_str() + colon + 1, &end, 10);
    if (*end != '\0') port = -1;
  }
  if (port < 1 || port > 65535) {
    error(valuePos(l), l.path,
          "expected HOST:PORT such as 127.0.0.1:" + std::to_string(kDefaultMetricsPort) +
              " or 0.0.0.0:" + std::to_string(kDefaultMetricsPort) + ", got " + describe(l.value));
    return;
  }
  // No host is loopback: the port answers anyone who reaches it, so reaching it from other
  // hosts (0.0.0.0, a pod IP) is asked for by name. Written out, so that every reader
  // (the listener, the alerts' generatorURL, print) sees the same address.
  a.metrics_listen = colon == 0 ? "127.0.0.1" + v : v;
}

void Loader::readAlertmanager(const Entry& e, AlertsSpec& a) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    typeError(e, "a map with the keys " + listNames(kAlertmanagerKeys));
    return;
  }
  auto keys = readMap(e.value, e.path, kAlertmanagerKeys);
  if (const Entry* urls = find(keys, "urls")) {
    if (!urls->value.IsSequence() || urls->value.size() == 0) {
      typeError(*urls, "a list of URLs such as [http://127.0.0.1:9093]");
    } else {
      for (std::size_t i = 0; i < urls->value.size(); ++i) {
        Entry u{"urls", urls->key_node, urls->value[i], indexed(urls->path, i)};
        std::string url;
        if (readUrl(u, url, UrlSchemes::kHttpOrHttps)) a.alertmanager_urls.push_back(url);
      }
    }
  } else {
    error(posOf(e.key_node), e.path, "missing required key 'urls'");
  }
  if (const Entry* r = find(keys, "resend_interval"))
    if (auto d = readDurationAtLeast(*r, std::chrono::seconds(1))) a.resend_interval = *d;
  if (const Entry* t = find(keys, "timeout"))
    if (auto d = readDurationAtLeast(*t, std::chrono::milliseconds(10)))
      a.alertmanager_timeout = *d;
  auto path = [&](const char* key, std::string& out) {
    if (const Entry* f = find(keys, key)) {
      if (!requireScalar(*f, "an absolute file path")) return;
      if (f->value.Scalar().empty() || f->value.Scalar()[0] != '/')
        error(valuePos(*f), f->path, "must be an absolute path, got " + describe(f->value));
      else
        out = f->value.Scalar();
    }
  };
  path("bearer_token_file", a.bearer_token_file);
  path("basic_auth_file", a.basic_auth_file);
  if (const Entry* t = find(keys, "tls")) readAlertmanagerTls(*t, a);
  if (!a.bearer_token_file.empty() && !a.basic_auth_file.empty())
    error(posOf(e.key_node), e.path, "give bearer_token_file or basic_auth_file, not both");
  if (const Entry* l = find(keys, "labels")) readAlertmanagerLabels(*l, a);
}

void Loader::readAlertmanagerTls(const Entry& t, AlertsSpec& a) {
  if (!t.value.IsMap()) {
    typeError(t, "a map with the keys " + listNames(kTlsKeys));
    return;
  }
  auto tk = readMap(t.value, t.path, kTlsKeys);
  auto tlsPath = [&](const char* key, std::string& out) {
    if (const Entry* f = find(tk, key)) {
      if (!requireScalar(*f, "an absolute file path")) return;
      if (f->value.Scalar().empty() || f->value.Scalar()[0] != '/')
        error(valuePos(*f), f->path, "must be an absolute path, got " + describe(f->value));
      else
        out = f->value.Scalar();
    }
  };
  tlsPath("ca_file", a.tls.ca_file);
  tlsPath("cert_file", a.tls.cert_file);
  tlsPath("key_file", a.tls.key_file);
  if (a.tls.cert_file.empty() != a.tls.key_file.empty())
    error(posOf(t.key_node), t.path,
          "give cert_file and key_file together (a client certificate and its key)");
  if (const Entry* n = find(tk, "server_name"))
    if (requireScalar(*n, "a host name")) a.tls.server_name = n->value.Scalar();
  if (const Entry* i = find(tk, "insecure_skip_verify"))
    if (auto b = readBool(*i)) a.tls.insecure_skip_verify = *b;
  bool https = std::any_of(a.alertmanager_urls.begin(), a.alertmanager_urls.end(),
                           [](const std::string& u) { return u.rfind("https:", 0) == 0; });
  if (!https && !a.alertmanager_urls.empty())
    error(posOf(t.key_node), t.path, "tls is set but no URL is https://");
}

// alerts.alertmanager.labels: {name: value}, added to every alert.
void Loader::readAlertmanagerLabels(const Entry& l, AlertsSpec& a) {
  if (!l.value.IsMap()) {
    typeError(l, "a map of label names to values such as {cluster: prod}");
    return;
  }
  for (auto it = l.value.begin(); it != l.value.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar() || !v.IsScalar()) {
      error(posOf(k), l.path, "expected name: value pairs of strings");
      continue;
    }
    a.static_labels.emplace_back(k.Scalar(), v.Scalar());
  }
}

}  // namespace oomsentinel::config_internal
