# The meshprobe probe image: the single-file agent (dist/agent/meshprobe-agent.mjs) on node 20 slim, with iputils
# ping for icmp probes. Build the bundle first (`npm run bootstrap` or `node scripts/bundle-agent.mjs`), then:
#   docker build -t meshprobe-agent .
# Runs as the unprivileged user `node` (uid 1000) by default. Never run probes as uid/gid 1337: Istio does not
# capture that user's traffic, so such probes would bypass the sidecar (see README, "Probe agent").
FROM node:20-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping \
 && rm -rf /var/lib/apt/lists/*

COPY dist/agent/meshprobe-agent.mjs /opt/meshprobe/meshprobe-agent.mjs

USER 1000:1000
WORKDIR /tmp
ENTRYPOINT ["node", "/opt/meshprobe/meshprobe-agent.mjs"]
CMD ["--help"]
