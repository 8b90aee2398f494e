# syntax=docker/dockerfile:1
# oomsentinel's container image. The build stage runs the same scripts as the README and CI
# (scripts/deps, scripts/build), so the image cannot drift from what the tests prove; the runtime
# stage holds the binary, its TLS module, the shared libraries they link
# (tests/unit/deploy/dockerfile_test.cc checks the list against `ldd` of both as built) and the
# example config.
#
#   docker build -t oomsentinel:0.1.0 .
#
# It runs as an unprivileged user (65532). Watching processes of other users needs root reduced
# to three capabilities, and the host's PID namespace and cgroupfs (docs/deploy/container.md):
#
#   docker run -d --name oomsentinel --pid=host --user 0 --read-only \
#     --cap-drop ALL --cap-add SYS_PTRACE --cap-add KILL --cap-add DAC_READ_SEARCH \
#     --security-opt no-new-privileges \
#     -v /sys/fs/cgroup:/host/sys/fs/cgroup:ro -v /var/lib/oomsentinel:/var/lib/oomsentinel \
#     -v /etc/oomsentinel:/etc/oomsentinel:ro --tmpfs /run/oomsentinel -p 10087:10087 \
#     oomsentinel:0.1.0 --cgroup-root /host/sys/fs/cgroup run --config /etc/oomsentinel/oomsentinel.yaml
#
#   SYS_PTRACE       read /proc/PID/smaps_rollup, environ, maps, root of other users' processes
#   KILL             signal another user's process (the gperftools dumper's HEAPPROFILESIGNAL)
#   DAC_READ_SEARCH  read heap profiles the target wrote with mode 0600
# The image has no JDK: the jvm dumper (jcmd) is for hosts, not this image.

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
# Only what building needs (the list's first part), not the test suite's VM and JDK.
RUN scripts/deps --build-only
RUN BUILD_DIR=/src/build BUILD_TARGETS=oomsentinel \
    scripts/build -DCMAKE_BUILD_TYPE=Release -DOOMSENTINEL_BENCH=OFF

FROM debian:bookworm-slim AS runtime
# Only what the binary and its TLS module load, each package for (their own dependencies come
# with them; --no-install-recommends keeps the rest out):
#   libyaml-cpp0.7             the config parser (libyaml-cpp.so.0.7)
#   libssl3                    TLS of the https Alertmanager client, in oomsentinel-tls.so
#   libcap-ng0                 dropping capabilities (the daemon, jcmd and exec hooks)
#   libprometheus-cpp-core1.0  the /metrics registry and its text format
#   libre2-9                   process selectors matched in linear time
#   libprotobuf-lite32         reading a Go heap profile for the bundle's report (analysis/)
#   zlib1g                     inflating that profile (it is gzip-compressed)
#   libsystemd0                sd_notify, loaded with dlopen only when run under systemd
#   libstdc++6, libgcc-s1      the C++ runtime (already in the base: listed because the binary
#                              links them itself, tests/unit/deploy/dockerfile_test.cc)
#   ca-certificates            the CA store for https:// Alertmanager URLs (brings openssl)
# The image's size is recorded in docs/deploy/container.md. apt's lists and caches are removed in
# the same layer, so they never reach the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libyaml-cpp0.7 \
      libssl3 \
      libcap-ng0 \
      libprometheus-cpp-core1.0 \
      libre2-9 \
      libprotobuf-lite32 \
      zlib1g \
      libsystemd0 \
      libstdc++6 \
      libgcc-s1 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /src/build/daemon/oomsentinel /usr/local/bin/oomsentinel
# The https half of the client (only an https:// Alertmanager URL loads it), where the binary
# looks: ../lib/oomsentinel beside its own folder.
COPY --from=build /src/build/lib/oomsentinel/oomsentinel-tls.so /usr/local/lib/oomsentinel/oomsentinel-tls.so
COPY --from=build /src/config/oomsentinel.example.yaml /etc/oomsentinel/oomsentinel.yaml
# Incidents and the state file, writable by the default user; Kubernetes mounts volumes here.
RUN install -d -m 0700 -o 65532 -g 65532 /var/lib/oomsentinel /var/lib/oomsentinel/incidents \
 && install -d -m 0755 -o 65532 -g 65532 /run/oomsentinel
USER 65532:65532
# alerts.metrics.listen: /metrics, /healthz, /readyz.
EXPOSE 10087
ENTRYPOINT ["/usr/local/bin/oomsentinel"]
CMD ["run", "--config", "/etc/oomsentinel/oomsentinel.yaml"]
