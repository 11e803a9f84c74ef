// The SFU pod's preStop hook (docker/k8s/base/sfu.yaml): starts the node's drain with
// POST /drain on its ops port — the same stop as SIGTERM: no new rooms, its calls moved to other
// nodes in batches, then the process exits — and waits for that exit, at most as long as the
// stop may take (SFU_DRAIN_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS). Kubernetes sends SIGTERM only after
// this returns. Written for `node` because the image has no curl. It always exits 0: a failed
// hook must not hold the pod, and SIGTERM drains by itself as well.
const ops = `http://${process.env.OPS_HOST || '127.0.0.1'}:${process.env.OPS_PORT || '9103'}`;
const stopMs = Number(process.env.SFU_DRAIN_TIMEOUT_MS || 60000) + Number(process.env.SHUTDOWN_TIMEOUT_MS || 10000);
const deadline = Date.now() + stopMs;

const answers = () => fetch(`${ops}/healthz`, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false);

async function main() {
  const drain = await fetch(`${ops}/drain`, { method: 'POST', headers: { authorization: `Bearer ${process.env.SFU_SECRET}` } });
  if (drain.status !== 202) {
    console.error(`preStop: POST /drain answered ${drain.status}; SIGTERM drains instead`);
    return;
  }
  while (Date.now() < deadline && (await answers())) await new Promise((resolve) => setTimeout(resolve, 1000));
  console.error(Date.now() < deadline ? 'preStop: the node drained and stopped' : `preStop: still running after ${stopMs} ms`);
}

main().catch((error) => console.error(`preStop: ${error.message}; SIGTERM drains instead`));
