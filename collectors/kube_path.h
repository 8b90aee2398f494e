// collectors/: turning kernel text into Snapshots.
// Kubernetes from the outside: a container's pod and id from its cgroup path, and its pod,
// namespace and container names from the kubelet's log symlinks. Pure parsers, plus one reader.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oomsentinel {

struct KubePath {
  std::string qos;           // "guaranteed", "burstable" or "besteffort"
  std::string pod_uid;       // with dashes, as the API shows it
  std::string container_id;  // 64 hex digits; empty for the pod's own cgroup
  std::string runtime;       // "containerd", "cri-o", "docker"; empty when the name says nothing
  bool operator==(const KubePath&) const = default;
};

// A cgroup path relative to the memory hierarchy ("/" or not in front), as either kubelet cgroup
// driver makes it:
//   systemd:  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>
//             .slice/cri-containerd-<id>.scope (or crio-<id>.scope, docker-<id>.scope);
//             guaranteed pods straight under kubepods.slice as kubepods-pod<uid>.slice
//   cgroupfs: kubepods/burstable/pod<uid>/<id>, kubepods/pod<uid>/<id>
// The kubepods part may sit below other cgroups (a kubelet --cgroup-root, a kind node), and a
// container may have cgroups of its own below it. nullopt for anything else, and for a container
// cgroup whose name is not a known runtime's (CRI-O's crio-conmon-<id>.scope, say).
std::optional<KubePath> parseKubeCgroupPath(std::string_view relative);

// <pod>_<namespace>_<container>-<64 hex id>.log, the kubelet's symlink in /var/log/containers.
struct ContainerLogName {
  std::string pod, namespace_name, container, container_id;
  bool operator==(const ContainerLogName&) const = default;
};
std::optional<ContainerLogName> parseContainerLogName(std::string_view file_name);

// What the containers log directory says: container id -> names, and pod uid -> (namespace, pod)
// from where the symlinks point (/var/log/pods/<namespace>_<pod>_<uid>/<container>/N.log).
struct KubeLogIndex {
  std::map<std::string, ContainerLogName> by_container_id;
  std::map<std::string, std::pair<std::string, std::string>> by_pod_uid;  // namespace, pod
};
// Reads `dir` (no error: a missing or unreadable directory gives an empty index, since names are
// a nicety and the kubelet's directory is absent outside Kubernetes). At most 100000 entries.
KubeLogIndex readKubeLogIndex(const std::string& dir);

// The labels of a cgroup: pod_uid and container_id when the path parses, and namespace, pod and
// container when `index` knows them. Only values made of [A-Za-z0-9._-] (at most 253 bytes) are
// given: they end up as Prometheus labels and in incident names.
std::vector<std::pair<std::string, std::string>> kubeLabels(std::string_view relative,
                                                            const KubeLogIndex& index);

}  // namespace oomsentinel
