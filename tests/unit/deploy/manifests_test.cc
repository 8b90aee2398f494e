// deploy/kubernetes/: what ties the manifests together, checked on the files as shipped: the
// metrics port (config, container, probes, PodMonitor; the config listening on the pod IP) and
// the node agent's NetworkPolicy on it, the volumes, the Downward API variables the config names,
// where incidents are written, the node agent's host mounts and flags, and the PrometheusRule
// against deploy/prometheus/oomsentinel-alerts.yaml. Every check is also run on a
// copy broken on purpose, so a check that cannot fail fails here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace {

using Problems = std::vector<std::string>;
using Docs = std::vector<YAML::Node>;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kDir = std::string(OOMSENTINEL_SOURCE_DIR) + "/deploy/kubernetes/";

// n[k1][k2]...: an undefined node where any step is missing (yaml-cpp throws on a chain through
// a missing key). A number indexes a sequence.
YAML::Node get(const YAML::Node& n, std::initializer_list<std::string> path) {
  YAML::Node at = n;
  for (const auto& k : path) {
    // Through a const reference: yaml-cpp's non-const operator[] inserts the key it looks for.
    const YAML::Node& here = at;
    YAML::Node next(YAML::NodeType::Undefined);
    if (here.IsMap() && here[k]) next.reset(here[k]);
    if (here.IsSequence() && !k.empty() && std::isdigit(static_cast<unsigned char>(k[0])) &&
        std::stoul(k) < here.size())
      next.reset(here[std::stoul(k)]);
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    at.reset(next);
  }
  return at;
}

std::string str(const YAML::Node& n) { return n.IsDefined() && n.IsScalar() ? n.Scalar() : ""; }

std::vector<YAML::Node> load(const std::string& file) { return YAML::LoadAllFromFile(kDir + file); }

YAML::Node find(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const auto& d : docs)
    if (d["kind"] && d["kind"].as<std::string>() == kind) return d;
  ADD_FAILURE() << "no " << kind;
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node podSpec(const YAML::Node& workload) {
  return get(workload, {"spec", "template", "spec"});
}

YAML::Node container(const YAML::Node& pod, const std::string& name) {
  for (const auto& c : get(pod, {"containers"}))
    if (str(get(c, {"name"})) == name) return c;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> args(const YAML::Node& c) {
  std::vector<std::string> out;
  for (const auto& a : c["args"]) out.push_back(a.as<std::string>());
  return out;
}

// The value after `flag` in the container's args ("" when absent).
std::string flagValue(const YAML::Node& c, const std::string& flag) {
  auto a = args(c);
  for (std::size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag) return a[i + 1];
  return "";
}

// The oomsentinel config the container runs: --config DIR/KEY, DIR a ConfigMap volume's mount.
YAML::Node configOf(const std::vector<YAML::Node>& docs, const YAML::Node& pod, const YAML::Node& c,
                    Problems& p) {
  std::string path = flagValue(c, "--config");
  for (const auto& m : c["volumeMounts"]) {
    std::string dir = str(m["mountPath"]);
    if (path.rfind(dir + "/", 0) != 0) continue;
    std::string key = path.substr(dir.size() + 1);
    for (const auto& v : pod["volumes"]) {
      if (str(v["name"]) != str(m["name"]) || !get(v, {"configMap"}).IsDefined()) continue;
      for (const auto& d : docs)
        if (str(d["kind"]) == "ConfigMap" &&
            str(get(d, {"metadata", "name"})) == str(get(v, {"configMap", "name"})) &&
            get(d, {"data", key}).IsDefined()) {
          try {
            return YAML::Load(get(d, {"data", key}).as<std::string>());
          } catch (const YAML::Exception& e) {
            p.push_back("the config in ConfigMap " + str(d["metadata"]["name"]) +
                        " is not valid YAML: " + e.what());
            return YAML::Node(YAML::NodeType::Undefined);
          }
        }
    }
  }
  p.push_back("--config '" + path + "' is not a key of a ConfigMap mounted in the container");
  return YAML::Node(YAML::NodeType::Undefined);
}

int listenPort(const YAML::Node& config) {
  std::string listen = str(get(config, {"alerts", "metrics", "listen"}));
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? -1 : std::stoi(listen.substr(colon + 1));
}

// --- the checks: each returns what is wrong ---------------------------------------------------

// The config's listen port is the container port the PodMonitor scrapes (by name) and the probes
// ask, and the probes ask /healthz and /readyz.
Problems checkPorts(const YAML::Node& config, const YAML::Node& c, const YAML::Node& podmonitor) {
  Problems p;
  std::string name = str(get(podmonitor, {"spec", "podMetricsEndpoints", "0", "port"}));
  int want = listenPort(config), found = -1;
  for (const auto& port : c["ports"])
    if (str(port["name"]) == name) found = port["containerPort"].as<int>();
  if (found < 0) p.push_back("no container port named '" + name + "' (the PodMonitor's)");
  if (found != want)
    p.push_back("container port " + std::to_string(found) + " is not the config's listen port " +
                std::to_string(want));
  // The daemon's default (no host) is loopback, which the kubelet's probes and Prometheus, both
  // coming to the pod IP, cannot reach: a manifest names the wildcard.
  std::string listen = str(get(config, {"alerts", "metrics", "listen"}));
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host != "0.0.0.0" && host != "[::]")
    p.push_back("the config listens on '" + host + "', not the pod IP the probes ask");
  if (str(get(podmonitor, {"spec", "podMetricsEndpoints", "0", "path"})) != "/metrics")
    p.push_back("the PodMonitor does not scrape /metrics");
  for (const auto& [probe, path] : std::vector<std::pair<std::string, std::string>>{
           {"livenessProbe", "/healthz"}, {"readinessProbe", "/readyz"}}) {
    YAML::Node http = get(c, {probe, "httpGet"});
    if (str(get(http, {"path"})) != path) p.push_back(probe + " does not ask " + path);
    std::string port = str(get(http, {"port"}));
    if (port != name && port != std::to_string(want))
      p.push_back(probe + " asks port " + port + ", not " + name);
  }
  return p;
}

Problems checkVolumes(const YAML::Node& pod) {
  Problems p;
  std::set<std::string> declared;
  for (const auto& v : pod["volumes"]) declared.insert(str(v["name"]));
  for (const auto& c : pod["containers"])
    for (const auto& m : c["volumeMounts"])
      if (!declared.count(str(m["name"])))
        p.push_back("container " + str(c["name"]) + " mounts undeclared volume " + str(m["name"]));
  return p;
}

// Every limit_env of the config is an environment variable of the container.
Problems checkLimitEnv(const YAML::Node& config, const YAML::Node& c) {
  Problems p;
  std::set<std::string> env;
  for (const auto& e : c["env"]) env.insert(str(e["name"]));
  for (const auto& t : config["targets"])
    if (get(t, {"limit_env"}).IsDefined() && !env.count(str(t["limit_env"])))
      p.push_back("target " + str(t["name"]) + ": limit_env " + str(t["limit_env"]) +
                  " is not set in the container");
  return p;
}

// dump.dir lies on a writable volume (the root file system is read-only) that is not a ConfigMap.
Problems checkDumpDir(const YAML::Node& config, const YAML::Node& pod, const YAML::Node& c) {
  std::string dir = str(get(config, {"dump", "dir"}));
  if (dir.empty()) return {"the config sets no dump.dir"};
  for (const auto& m : c["volumeMounts"]) {
    std::string at = str(m["mountPath"]);
    if (dir != at && dir.rfind(at + "/", 0) != 0) continue;
    if (get(m, {"readOnly"}).IsDefined() && m["readOnly"].as<bool>())
      return {"dump.dir " + dir + " is on a read-only mount"};
    for (const auto& v : pod["volumes"])
      if (str(v["name"]) == str(m["name"]) &&
          (get(v, {"configMap"}).IsDefined() || get(v, {"secret"}).IsDefined()))
        return {"dump.dir " + dir + " is on a ConfigMap/Secret volume"};
    return {};
  }
  return {"dump.dir " + dir + " is not on a mounted volume"};
}

// The selector picks the template's own labels.
Problems checkSelector(const YAML::Node& workload) {
  Problems p;
  YAML::Node labels = get(workload, {"spec", "template", "metadata", "labels"});
  for (const auto& kv : get(workload, {"spec", "selector", "matchLabels"}))
    if (str(get(labels, {kv.first.as<std::string>()})) != str(kv.second))
      p.push_back("selector " + kv.first.as<std::string>() + "=" + str(kv.second) +
                  " does not match the pod template's labels");
  return p;
}

// The PodMonitor selects the pod, and the job name it takes from the pod is "oomsentinel".
Problems checkMonitored(const YAML::Node& workload, const YAML::Node& podmonitor) {
  Problems p;
  YAML::Node labels = get(workload, {"spec", "template", "metadata", "labels"});
  for (const auto& kv : get(podmonitor, {"spec", "selector", "matchLabels"}))
    if (str(get(labels, {kv.first.as<std::string>()})) != str(kv.second))
      p.push_back("the PodMonitor's selector " + kv.first.as<std::string>() + " misses the pod");
  if (str(get(labels, {str(get(podmonitor, {"spec", "jobLabel"}))})) != "oomsentinel")
    p.push_back("the pod's job label is not 'oomsentinel' (the alert rules' job)");
  return p;
}

Problems checkSidecar(const YAML::Node& deployment) {
  Problems p;
  YAML::Node pod = podSpec(deployment);
  if (!get(pod, {"shareProcessNamespace"}).IsDefined() || !pod["shareProcessNamespace"].as<bool>())
    p.push_back("the pod does not share its process namespace");
  YAML::Node c = container(pod, "oomsentinel");
  std::set<std::string> env;
  for (const auto& e : c["env"]) env.insert(str(e["name"]));
  for (const char* name : {"POD_NAMESPACE", "POD_NAME", "CONTAINER_NAME"})
    if (!env.count(name)) p.push_back(std::string("no ") + name + " in oomsentinel's env");
  for (const auto& e : c["env"]) {
    YAML::Node ref = get(e, {"valueFrom", "resourceFieldRef"});
    if (ref.IsDefined() && (!container(pod, str(get(ref, {"containerName"}))).IsDefined() ||
                            str(get(ref, {"resource"})) != "limits.memory"))
      p.push_back(str(e["name"]) + " is not the memory limit of a container of the pod");
  }
  return p;
}

Problems checkNodeAgent(const YAML::Node& ds) {
  Problems p;
  YAML::Node pod = podSpec(ds);
  YAML::Node c = container(pod, "oomsentinel");
  if (!get(pod, {"hostPID"}).IsDefined() || !pod["hostPID"].as<bool>()) p.push_back("no hostPID");
  std::string root = flagValue(c, "--cgroup-root");
  bool mounted = false;
  for (const auto& m : c["volumeMounts"]) {
    for (const auto& v : pod["volumes"]) {
      if (str(v["name"]) != str(m["name"]) || str(get(v, {"hostPath", "path"})) != "/sys/fs/cgroup")
        continue;
      mounted = true;
      if (!get(m, {"readOnly"}).IsDefined() || !m["readOnly"].as<bool>())
        p.push_back("the host cgroupfs is writable");
      if (str(m["mountPath"]) != root)
        p.push_back("--cgroup-root " + root + " is not where the host cgroupfs is mounted (" +
                    str(m["mountPath"]) + ")");
    }
  }
  if (!mounted) p.push_back("the host's /sys/fs/cgroup is not mounted");
  if (flagValue(c, "--proc-root") != "/proc") p.push_back("--proc-root is not /proc");
  std::set<std::string> caps;
  for (const auto& cap : get(c, {"securityContext", "capabilities", "add"}))
    caps.insert(cap.as<std::string>());
  // The systemd unit's set: exec hooks run as their user (SETUID, SETGID) and what they leave is
  // made private (FOWNER); nothing for jcmd's namespaces (SYS_ADMIN), since the image has no JDK.
  if (caps !=
      std::set<std::string>{"SYS_PTRACE", "KILL", "DAC_READ_SEARCH", "SETUID", "SETGID", "FOWNER"})
    p.push_back(
        "capabilities added are not exactly SYS_PTRACE, KILL, DAC_READ_SEARCH, SETUID, SETGID, "
        "FOWNER");
  return p;
}

// The node agent's NetworkPolicy: it selects the agent's pods, isolates their ingress, and lets
// in only selected sources (no rule without `from`, no ipBlock), on the metrics port alone.
Problems checkNetworkPolicy(const std::vector<YAML::Node>& docs, const YAML::Node& ds,
                            const YAML::Node& podmonitor) {
  Problems p;
  YAML::Node np(YAML::NodeType::Undefined);
  for (const auto& d : docs)
    if (str(d["kind"]) == "NetworkPolicy") np.reset(d);
  if (!np.IsDefined()) return {"no NetworkPolicy"};
  YAML::Node labels = get(ds, {"spec", "template", "metadata", "labels"});
  YAML::Node match = get(np, {"spec", "podSelector", "matchLabels"});
  if (!match.IsMap() || match.size() == 0) p.push_back("the NetworkPolicy selects no labels");
  for (const auto& kv : match)
    if (str(get(labels, {kv.first.as<std::string>()})) != str(kv.second))
      p.push_back("the NetworkPolicy's selector " + kv.first.as<std::string>() +
                  " misses the pods");
  if (str(get(np, {"metadata", "namespace"})) != str(get(ds, {"metadata", "namespace"})))
    p.push_back("the NetworkPolicy is not in the DaemonSet's namespace");
  bool ingress = false;
  for (const auto& t : get(np, {"spec", "policyTypes"})) ingress |= str(t) == "Ingress";
  if (!ingress) p.push_back("the NetworkPolicy does not isolate ingress");
  std::string name = str(get(podmonitor, {"spec", "podMetricsEndpoints", "0", "port"}));
  bool metrics = false;
  YAML::Node rules = get(np, {"spec", "ingress"});
  if (!rules.IsSequence() || rules.size() == 0) p.push_back("the NetworkPolicy has no ingress");
  for (const auto& r : rules) {
    YAML::Node from = get(r, {"from"});
    if (!from.IsSequence() || from.size() == 0)
      p.push_back("an ingress rule without `from` lets everyone in");
    for (const auto& f : from)
      if (get(f, {"ipBlock"}).IsDefined()) p.push_back("an ingress rule lets in an ipBlock");
    YAML::Node ports = get(r, {"ports"});
    if (!ports.IsSequence() || ports.size() == 0)
      p.push_back("an ingress rule without `ports` opens every port");
    for (const auto& port : ports) {
      if (str(get(port, {"port"})) == name || str(get(port, {"port"})) == "10087")
        metrics = true;
      else
        p.push_back("the NetworkPolicy opens port " + str(get(port, {"port"})));
    }
  }
  if (!metrics) p.push_back("the NetworkPolicy does not let Prometheus reach the metrics port");
  return p;
}

// Node by node: same types, same scalars, same keys, same order in sequences.
void compare(const YAML::Node& a, const YAML::Node& b, const std::string& path, Problems& p) {
  if (a.Type() != b.Type()) {
    p.push_back(path + ": different node types");
  } else if (a.IsScalar()) {
    if (a.Scalar() != b.Scalar())
      p.push_back(path + ": '" + a.Scalar() + "' vs '" + b.Scalar() + "'");
  } else if (a.IsSequence()) {
    if (a.size() != b.size())
      p.push_back(path + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) +
                  " items");
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      compare(a[i], b[i], path + "[" + std::to_string(i) + "]", p);
  } else if (a.IsMap()) {
    std::set<std::string> keys;
    for (const auto& kv : a) keys.insert(kv.first.as<std::string>());
    for (const auto& kv : b) keys.insert(kv.first.as<std::string>());
    for (const auto& k : keys) {
      if (!a[k] || !b[k])
        p.push_back(path + "." + k + ": only in one");
      else
        compare(a[k], b[k], path + "." + k, p);
    }
  }
}

Problems checkRules(const YAML::Node& rule) {
  Problems p;
  YAML::Node shipped = YAML::LoadFile(std::string(OOMSENTINEL_SOURCE_DIR) +
                                      "/deploy/prometheus/oomsentinel-alerts.yaml");
  if (str(rule["apiVersion"]) != "monitoring.coreos.com/v1")
    p.push_back("not monitoring.coreos.com/v1");
  compare(rule["spec"]["groups"], shipped["groups"], "groups", p);
  return p;
}

// --- the manifests as shipped ---------------------------------------------------------------

struct Manifests {
  std::vector<YAML::Node> sidecar = load("sidecar.yaml"), node = load("node-agent.yaml");
  YAML::Node podmonitor = load("podmonitor.yaml").at(0);
  YAML::Node rule = load("prometheusrule.yaml").at(0);
};

// Every check of one workload, as the tests below run them.
Problems checkWorkload(const std::vector<YAML::Node>& docs, const YAML::Node& workload,
                       const YAML::Node& podmonitor) {
  Problems p;
  YAML::Node pod = podSpec(workload);
  YAML::Node c = container(pod, "oomsentinel");
  if (!c.IsDefined()) return {"no container named oomsentinel"};
  YAML::Node config = configOf(docs, pod, c, p);
  if (!config.IsDefined()) return p;
  auto add = [&](Problems more) { p.insert(p.end(), more.begin(), more.end()); };
  add(checkPorts(config, c, podmonitor));
  add(checkVolumes(pod));
  add(checkLimitEnv(config, c));
  add(checkDumpDir(config, pod, c));
  add(checkSelector(workload));
  add(checkMonitored(workload, podmonitor));
  return p;
}

TEST(KubernetesManifests, EveryDocumentParsesAndHasAKind) {
  for (const char* file :
       {"sidecar.yaml", "node-agent.yaml", "podmonitor.yaml", "prometheusrule.yaml"}) {
    auto docs = load(file);
    ASSERT_FALSE(docs.empty()) << file;
    for (const auto& d : docs) {
      EXPECT_TRUE(d["apiVersion"] && d["kind"] && d["metadata"]["name"]) << file;
    }
  }
}

TEST(KubernetesManifests, SidecarIsConsistent) {
  Manifests m;
  YAML::Node deployment = find(m.sidecar, "Deployment");
  EXPECT_THAT(checkWorkload(m.sidecar, deployment, m.podmonitor), IsEmpty());
  EXPECT_THAT(checkSidecar(deployment), IsEmpty());
}

TEST(KubernetesManifests, NodeAgentIsConsistent) {
  Manifests m;
  YAML::Node ds = find(m.node, "DaemonSet");
  EXPECT_THAT(checkWorkload(m.node, ds, m.podmonitor), IsEmpty());
  EXPECT_THAT(checkNodeAgent(ds), IsEmpty());
  EXPECT_THAT(checkNetworkPolicy(m.node, ds, m.podmonitor), IsEmpty());
}

// The configs in the ConfigMaps are ones the daemon accepts: `oomsentinel check-config` on each.
TEST(KubernetesManifests, TheConfigMapsConfigsPassCheckConfig) {
  Manifests m;
  oomsentinel::testing::TempDir dir;
  for (auto* docs : {&m.sidecar, &m.node}) {
    YAML::Node cm = find(*docs, "ConfigMap");
    ASSERT_TRUE(cm["data"]["oomsentinel.yaml"]) << "no oomsentinel.yaml in a ConfigMap";
    std::string name = cm["metadata"]["name"].as<std::string>() + ".yaml";
    dir.write(name, cm["data"]["oomsentinel.yaml"].as<std::string>());
    auto r = oomsentinel::testing::runCommand(
        {OOMSENTINEL_BINARY, "check-config", dir.path() + "/" + name}, 30);
    EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.out << r.err;
  }
}

TEST(KubernetesManifests, PrometheusRuleHoldsExactlyTheShippedGroups) {
  Manifests m;
  EXPECT_THAT(checkRules(m.rule), IsEmpty());
}

// --- and each check, broken on purpose --------------------------------------------------------

// A deep copy of the workload's documents with `breakIt` applied to the copy.
Problems broken(const std::vector<YAML::Node>& docs, const std::string& kind,
                const std::function<void(std::vector<YAML::Node>&, YAML::Node&)>& breakIt,
                const YAML::Node& podmonitor) {
  std::vector<YAML::Node> copy;
  for (const auto& d : docs) copy.push_back(YAML::Clone(d));
  YAML::Node w = find(copy, kind);
  breakIt(copy, w);
  Problems p = checkWorkload(copy, w, podmonitor);
  Problems extra = kind == "DaemonSet" ? checkNodeAgent(w) : checkSidecar(w);
  p.insert(p.end(), extra.begin(), extra.end());
  return p;
}

void setConfig(std::vector<YAML::Node>& docs, const std::function<void(YAML::Node&)>& edit) {
  YAML::Node cm = find(docs, "ConfigMap");
  YAML::Node config = YAML::Load(cm["data"]["oomsentinel.yaml"].as<std::string>());
  edit(config);
  cm["data"]["oomsentinel.yaml"] = YAML::Dump(config);
}

TEST(KubernetesManifests, EachCheckFailsWhenItsTieIsBroken) {
  Manifests m;
  using Break = std::function<void(std::vector<YAML::Node>&, YAML::Node&)>;
  auto oomsentinel = [](YAML::Node& w) { return container(podSpec(w), "oomsentinel"); };
  std::vector<std::pair<std::string, Break>> breaks = {
      {"listen port",
       [](Docs& d, YAML::Node&) {
         setConfig(d, [](YAML::Node& c) { c["alerts"]["metrics"]["listen"] = "0.0.0.0:9999"; });
       }},
      {"listen on loopback",
       [](Docs& d, YAML::Node&) {
         setConfig(d, [](YAML::Node& c) { c["alerts"]["metrics"]["listen"] = ":10087"; });
       }},
      {"port name", [&](Docs&, YAML::Node& w) { oomsentinel(w)["ports"][0]["name"] = "http"; }},
      {"liveness path",
       [&](Docs&, YAML::Node& w) {
         oomsentinel(w)["livenessProbe"]["httpGet"]["path"] = "/metrics";
       }},
      {"readiness path",
       [&](Docs&, YAML::Node& w) {
         oomsentinel(w)["readinessProbe"]["httpGet"]["path"] = "/healthz";
       }},
      {"probe port",
       [&](Docs&, YAML::Node& w) { oomsentinel(w)["readinessProbe"]["httpGet"]["port"] = 8080; }},
      {"undeclared volume",
       [&](Docs&, YAML::Node& w) { oomsentinel(w)["volumeMounts"][0]["name"] = "nope"; }},
      {"dump.dir off the volumes",
       [](Docs& d, YAML::Node&) {
         setConfig(d, [](YAML::Node& c) { c["dump"]["dir"] = "/tmp/incidents"; });
       }},
      {"dump.dir read-only",
       [&](Docs& d, YAML::Node& w) {
         setConfig(d, [](YAML::Node& c) { c["dump"]["dir"] = "/etc/oomsentinel/incidents"; });
         (void)w;
       }},
      {"config not YAML",
       [](Docs& d, YAML::Node&) { find(d, "ConfigMap")["data"]["oomsentinel.yaml"] = "a: [b"; }},
      {"config key",
       [&](Docs&, YAML::Node& w) {
         for (YAML::Node a : oomsentinel(w)["args"])
           if (a.as<std::string>() == "/etc/oomsentinel/oomsentinel.yaml")
             a = "/etc/oomsentinel/other.yaml";
       }},
      {"selector",
       [](Docs&, YAML::Node& w) {
         w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "other";
       }},
      {"job label",
       [](Docs&, YAML::Node& w) {
         w["spec"]["template"]["metadata"]["labels"]["oomsentinel/job"] = "other";
       }},
  };
  for (const auto& [what, breakIt] : breaks) {
    EXPECT_THAT(broken(m.sidecar, "Deployment", breakIt, m.podmonitor), Not(IsEmpty()))
        << "sidecar: " << what;
    EXPECT_THAT(broken(m.node, "DaemonSet", breakIt, m.podmonitor), Not(IsEmpty()))
        << "node agent: " << what;
  }

  std::vector<std::pair<std::string, Break>> sidecar_breaks = {
      {"limit_env",
       [](Docs& d, YAML::Node&) {
         setConfig(d, [](YAML::Node& c) { c["targets"][0]["limit_env"] = "NOT_SET"; });
       }},
      {"shared PID namespace",
       [](Docs&, YAML::Node& w) { podSpec(w)["shareProcessNamespace"] = false; }},
      {"Downward API",
       [&](Docs&, YAML::Node& w) { oomsentinel(w)["env"][0]["name"] = "NAMESPACE"; }},
      {"limit of another container",
       [&](Docs&, YAML::Node& w) {
         for (YAML::Node e : oomsentinel(w)["env"])
           if (e["valueFrom"]["resourceFieldRef"])
             e["valueFrom"]["resourceFieldRef"]["containerName"] = "db";
       }},
  };
  for (const auto& [what, breakIt] : sidecar_breaks)
    EXPECT_THAT(broken(m.sidecar, "Deployment", breakIt, m.podmonitor), Not(IsEmpty())) << what;

  std::vector<std::pair<std::string, Break>> node_breaks = {
      {"hostPID", [](Docs&, YAML::Node& w) { podSpec(w).remove("hostPID"); }},
      {"writable cgroupfs",
       [&](Docs&, YAML::Node& w) {
         for (YAML::Node v : oomsentinel(w)["volumeMounts"])
           if (v["name"].as<std::string>() == "cgroup") v["readOnly"] = false;
       }},
      {"--cgroup-root",
       [&](Docs&, YAML::Node& w) {
         for (YAML::Node a : oomsentinel(w)["args"])
           if (a.as<std::string>() == "/host/sys/fs/cgroup") a = "/sys/fs/cgroup";
       }},
      {"capabilities",
       [&](Docs&, YAML::Node& w) {
         oomsentinel(w)["securityContext"]["capabilities"]["add"].push_back("SYS_ADMIN");
       }},
      {"capabilities without FOWNER",
       [&](Docs&, YAML::Node& w) {
         YAML::Node kept(YAML::NodeType::Sequence);
         for (const auto& cap : oomsentinel(w)["securityContext"]["capabilities"]["add"])
           if (cap.as<std::string>() != "FOWNER") kept.push_back(cap.as<std::string>());
         oomsentinel(w)["securityContext"]["capabilities"]["add"] = kept;
       }},
  };
  for (const auto& [what, breakIt] : node_breaks)
    EXPECT_THAT(broken(m.node, "DaemonSet", breakIt, m.podmonitor), Not(IsEmpty())) << what;

  using BreakPolicy = std::function<void(YAML::Node&)>;
  std::vector<std::pair<std::string, BreakPolicy>> policy_breaks = {
      {"pod selector",
       [](YAML::Node& np) {
         np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = "sidecar";
       }},
      {"empty selector",
       [](YAML::Node& np) { np["spec"]["podSelector"] = YAML::Node(YAML::NodeType::Map); }},
      {"namespace", [](YAML::Node& np) { np["metadata"]["namespace"] = "default"; }},
      {"egress only", [](YAML::Node& np) { np["spec"]["policyTypes"][0] = "Egress"; }},
      {"from anyone", [](YAML::Node& np) { np["spec"]["ingress"][0].remove("from"); }},
      {"from an ipBlock",
       [](YAML::Node& np) {
         YAML::Node b;
         b["ipBlock"]["cidr"] = "0.0.0.0/0";
         np["spec"]["ingress"][0]["from"].push_back(b);
       }},
      {"every port", [](YAML::Node& np) { np["spec"]["ingress"][0].remove("ports"); }},
      {"another port", [](YAML::Node& np) { np["spec"]["ingress"][0]["ports"][0]["port"] = 22; }},
  };
  for (const auto& [what, breakIt] : policy_breaks) {
    std::vector<YAML::Node> copy;
    for (const auto& d : m.node) copy.push_back(YAML::Clone(d));
    YAML::Node np = find(copy, "NetworkPolicy");
    breakIt(np);
    EXPECT_THAT(checkNetworkPolicy(copy, find(copy, "DaemonSet"), m.podmonitor), Not(IsEmpty()))
        << what;
  }
  {
    std::vector<YAML::Node> copy;
    for (const auto& d : m.node)
      if (str(d["kind"]) != "NetworkPolicy") copy.push_back(YAML::Clone(d));
    EXPECT_THAT(checkNetworkPolicy(copy, find(copy, "DaemonSet"), m.podmonitor), Not(IsEmpty()))
        << "no NetworkPolicy";
  }

  YAML::Node rule = YAML::Clone(m.rule);
  rule["spec"]["groups"][0]["rules"][0]["for"] = "4m";
  EXPECT_THAT(checkRules(rule), Not(IsEmpty()));
  rule = YAML::Clone(m.rule);
  rule["spec"]["groups"][0]["rules"][0]["labels"]["team"] = "x";
  EXPECT_THAT(checkRules(rule), Not(IsEmpty()));
}

}  // namespace
