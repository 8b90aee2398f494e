#include "collectors/kube_path.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>

#include "core/host_paths.h"

namespace oomsentinel {
namespace {

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool isContainerId(std::string_view s) { return s.size() == 64 && isHex(s); }

// A pod UID as the API shows it: a UUID (8-4-4-4-12), or for a static pod a 32-digit hash. The
// systemd driver writes '_' for '-' (a '-' means nesting in a slice name).
std::optional<std::string> podUid(std::string_view raw) {
  std::string uid(raw);
  std::replace(uid.begin(), uid.end(), '_', '-');
  std::size_t hex = std::count_if(uid.begin(), uid.end(), [](char c) { return c != '-'; });
  bool chars = std::all_of(uid.begin(), uid.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
  });
  if (!chars || hex != 32 || (uid.size() != 32 && uid.size() != 36)) return std::nullopt;
  if (uid.size() == 36 && (uid[8] != '-' || uid[13] != '-' || uid[18] != '-' || uid[23] != '-'))
    return std::nullopt;
  return uid;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    std::size_t p = path.find('/');
    std::string_view c = path.substr(0, p);
    if (!c.empty()) out.push_back(c);
    if (p == std::string_view::npos) break;
    path.remove_prefix(p + 1);
  }
  return out;
}

// systemd: "<...>kubepods[-<qos>]-pod<uid>.slice".
std::optional<KubePath> systemdPod(std::string_view c) {
  if (!c.ends_with(".slice")) return std::nullopt;
  c.remove_suffix(6);
  std::size_t p = c.rfind("-pod");
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view head = c.substr(0, p);
  auto uid = podUid(c.substr(p + 4));
  if (!uid) return std::nullopt;
  KubePath out;
  out.pod_uid = *uid;
  if (head.ends_with("kubepods-burstable"))
    out.qos = "burstable";
  else if (head.ends_with("kubepods-besteffort"))
    out.qos = "besteffort";
  else if (head.ends_with("kubepods"))
    out.qos = "guaranteed";
  else
    return std::nullopt;
  return out;
}

// cgroupfs: "pod<uid>" under kubepods/, kubepods/burstable/ or kubepods/besteffort/.
std::optional<KubePath> cgroupfsPod(const std::vector<std::string_view>& cs, std::size_t i) {
  if (!cs[i].starts_with("pod") || i == 0) return std::nullopt;
  auto uid = podUid(cs[i].substr(3));
  if (!uid) return std::nullopt;
  KubePath out;
  out.pod_uid = *uid;
  if (cs[i - 1] == "kubepods") {
    out.qos = "guaranteed";
  } else if ((cs[i - 1] == "burstable" || cs[i - 1] == "besteffort") && i >= 2 &&
             cs[i - 2] == "kubepods") {
    out.qos = std::string(cs[i - 1]);
  } else {
    return std::nullopt;
  }
  return out;
}

// The container's cgroup: "<prefix><id>[.scope]".
bool container(std::string_view c, bool systemd, KubePath& out) {
  if (systemd) {
    if (!c.ends_with(".scope")) return false;
    c.remove_suffix(6);
  }
  static constexpr std::pair<std::string_view, std::string_view> kPrefixes[] = {
      {"cri-containerd-", "containerd"}, {"crio-", "cri-o"}, {"docker-", "docker"}};
  for (const auto& [prefix, runtime] : kPrefixes)
    if (c.starts_with(prefix) && isContainerId(c.substr(prefix.size()))) {
      out.runtime = runtime;
      out.container_id = c.substr(prefix.size());
      return true;
    }
  // cgroupfs: the bare id, whichever runtime made it.
  if (!systemd && isContainerId(c)) {
    out.container_id = c;
    return true;
  }
  return false;
}

bool labelSafe(std::string_view v) {
  return !v.empty() && v.size() <= 253 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

}  // namespace

std::optional<KubePath> parseKubeCgroupPath(std::string_view relative) {
  auto cs = components(relative);
  for (std::size_t i = 0; i < cs.size(); ++i) {
    bool systemd = true;
    auto pod = systemdPod(cs[i]);
    if (!pod) {
      systemd = false;
      pod = cgroupfsPod(cs, i);
    }
    if (!pod) continue;
    if (i + 1 < cs.size() && !container(cs[i + 1], systemd, *pod)) return std::nullopt;
    return pod;
  }
  return std::nullopt;
}

std::optional<ContainerLogName> parseContainerLogName(std::string_view name) {
  if (!name.ends_with(".log")) return std::nullopt;
  name.remove_suffix(4);
  if (name.size() < 65) return std::nullopt;
  std::string_view id = name.substr(name.size() - 64);
  if (!isContainerId(id) || name[name.size() - 65] != '-') return std::nullopt;
  name.remove_suffix(65);  // "<pod>_<namespace>_<container>"
  std::size_t last = name.rfind('_');
  if (last == std::string_view::npos) return std::nullopt;
  std::string_view rest = name.substr(0, last);
  std::size_t first = rest.find('_');
  if (first == std::string_view::npos) return std::nullopt;
  ContainerLogName out{std::string(rest.substr(0, first)), std::string(rest.substr(first + 1)),
                       std::string(name.substr(last + 1)), std::string(id)};
  if (out.pod.empty() || out.namespace_name.empty() || out.container.empty() ||
      out.namespace_name.find('_') != std::string::npos)
    return std::nullopt;
  return out;
}

KubeLogIndex readKubeLogIndex(const std::string& dir) {
  KubeLogIndex out;
  if (dir.empty()) return out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  std::size_t seen = 0;
  while (dirent* e = ::readdir(d)) {
    if (++seen > 100'000) break;
    auto name = parseContainerLogName(e->d_name);
    if (!name) continue;
    // ".../<namespace>_<pod>_<uid>/<container>/0.log": the pod's uid, for its own cgroup.
    char buf[4096];
    ssize_t n = ::readlink(joinPath(dir, e->d_name).c_str(), buf, sizeof buf);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof buf) {
      std::string_view target(buf, static_cast<std::size_t>(n));
      auto cs = components(target);
      if (cs.size() >= 3) {
        std::string_view pod_dir = cs[cs.size() - 3];
        std::size_t last = pod_dir.rfind('_');
        std::string prefix = name->namespace_name + "_" + name->pod + "_";
        if (last != std::string_view::npos && pod_dir.starts_with(prefix) &&
            last + 1 == prefix.size())
          if (auto uid = podUid(pod_dir.substr(last + 1)))
            out.by_pod_uid[*uid] = {name->namespace_name, name->pod};
      }
    }
    out.by_container_id[name->container_id] = std::move(*name);
  }
  ::closedir(d);
  return out;
}

std::vector<std::pair<std::string, std::string>> kubeLabels(std::string_view relative,
                                                            const KubeLogIndex& index) {
  std::vector<std::pair<std::string, std::string>> out;
  auto kp = parseKubeCgroupPath(relative);
  if (!kp) return out;
  auto add = [&](const char* k, const std::string& v) {
    if (labelSafe(v)) out.emplace_back(k, v);
  };
  std::string ns, pod, ctr;
  if (auto it = index.by_container_id.find(kp->container_id);
      !kp->container_id.empty() && it != index.by_container_id.end()) {
    ns = it->second.namespace_name;
    pod = it->second.pod;
    ctr = it->second.container;
  } else if (auto p = index.by_pod_uid.find(kp->pod_uid); p != index.by_pod_uid.end()) {
    ns = p->second.first;
    pod = p->second.second;
  }
  add("namespace", ns);
  add("pod", pod);
  add("container", ctr);
  add("pod_uid", kp->pod_uid);
  add("container_id", kp->container_id);
  return out;
}

}  // namespace oomsentinel
