# The meshprobe probe image: the single-file agent (dist/agent/meshprobe-agent.mjs) on node 20 slim.
# Build the bundle first (`npm run bootstrap` or `node scripts/bundle-agent.mjs`), then:
#   docker build -t meshprobe-agent .
# What the cluster targets rely on (src/targets/k8s/manifests.ts, exec-probe.ts):
#   /agent/meshprobe-agent.mjs   the agent (`serve`, `call`, `query`)
#   sh, head                     probes are exec'd as `sh -c 'head -n 1 | node … call'`
#   setpriv (util-linux)         probes with `as: {user: N}` drop to that uid
#   iptables                     probes with `bypass: flush-capture` flush the pod's nat table (needs NET_ADMIN)
#   ping (iputils-ping)          icmp probes
# Runs as the unprivileged user `node` (uid 1000) by default. Never run the workload itself as uid/gid 1337: Istio
# does not capture that user's traffic, so its probes would bypass the sidecar (see README, "Probe agent").
FROM node:20-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping iptables \
 && rm -rf /var/lib/apt/lists/*

COPY dist/agent/meshprobe-agent.mjs /agent/meshprobe-agent.mjs

USER 1000:1000
WORKDIR /tmp
ENTRYPOINT ["node", "/agent/meshprobe-agent.mjs"]
CMD ["--help"]
