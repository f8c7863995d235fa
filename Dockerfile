# The meshprobe probe image: the single-file agent (dist/agent/meshprobe-agent.mjs) on a Debian image with node.
# Build the bundle first (`npm run bootstrap` or `node scripts/bundle-agent.mjs`; `meshprobe up` does both), then:
#   docker build -t meshprobe-agent .
# BASE_IMAGE: any Debian-based image with node >= 20 on PATH. The default is the official node 22 image (node 20
# is end of life); the tests build on a local image made by scripts/docker-setup (Debian bookworm from Debian's
# mirror plus the machine's node binary, tagged meshprobe-base:bookworm-node<major>), with no registry.
# What the cluster targets rely on (src/targets/k8s/manifests.ts, exec-probe.ts):
#   /agent/meshprobe-agent.mjs   the agent (`serve`, `call`, `query`)
#   sh, head                     probes are exec'd as `sh -c 'head -n 1 | node … call'`
#   setpriv (util-linux)         probes with `as: {user: N}` drop to that uid
#   iptables                     probes with `bypass: flush-capture` save, flush and restore the pod's nat table
#                                (iptables-{nft,legacy}{,-save,-restore}; needs uid 0 with NET_ADMIN)
#   ping (iputils-ping)          icmp probes
# Runs as uid 1000 by default; pods whose probes need capabilities run it as uid 0 with just those added, because
# a non-root container gets no effective capabilities (kubernetes/kubernetes#56374). Never run the workload itself
# as uid/gid 1337: Istio does not capture that user's traffic, so its probes would bypass the sidecar (see docs/agent.md).
ARG BASE_IMAGE=node:22-slim
FROM ${BASE_IMAGE}

RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping iptables util-linux \
 && rm -rf /var/lib/apt/lists/*

COPY dist/agent/meshprobe-agent.mjs /agent/meshprobe-agent.mjs

USER 1000:1000
WORKDIR /tmp
ENTRYPOINT ["node", "/agent/meshprobe-agent.mjs"]
CMD ["--help"]
