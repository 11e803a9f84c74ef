import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { applyOperation, kustomizeBuild, objectKey, type K8sObject } from '@concord/testkit/src/kustomize';

/*
 * docker/k8s as a cluster would receive it: the base and every overlay rendered, every object
 * validated against the Kubernetes API schemas (kubernetes-models), and the properties the
 * deployment relies on checked — probes, disruption budgets, autoscalers and their targets, the
 * SFU's host network and drain, secrets by reference only, default-deny network policies, sticky
 * WebSocket routing. Each check is shown to fail on a manifest broken for it.
 */

const K8S = path.resolve(__dirname, '../docker/k8s');
const BUILDS = ['base', 'overlays/small', 'overlays/production'];
const rendered = new Map(BUILDS.map((build) => [build, kustomizeBuild(path.join(K8S, build))]));
const base = (): K8sObject[] => structuredClone(rendered.get('base')!);

type Container = {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: { cpu?: string; memory?: string } };
  securityContext?: { allowPrivilegeEscalation?: boolean };
};
type PodSpec = {
  hostNetwork?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
};
type Workload = K8sObject & { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
type Selector = { matchLabels?: Record<string, string> };

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const workloads = (objects: K8sObject[]): Workload[] => objects.filter((object): object is Workload => WORKLOAD_KINDS.has(object.kind));
const ofKind = <T = K8sObject>(objects: K8sObject[], kind: string): (K8sObject & T)[] => objects.filter((object) => object.kind === kind) as (K8sObject & T)[];
const selects = (selector: Selector | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
/** The ops ports of README's configuration table: each service's /healthz and /readyz. */
const OPS_PORTS: Record<string, number> = { api: 9101, signaling: 9102, sfu: 9103 };
/** Variables that carry secrets: only ever read from a Secret. */
const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE_KEY|DATABASE_URL|REDIS_URL/;

function portNumber(container: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

const envValue = (container: Container, name: string): string | undefined => container.env?.find((variable) => variable.name === name)?.value;

/** Every way the rendered manifests fall short of what the deployment relies on; [] when none. */
function problemsOf(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const byKey = new Set(objects.map(objectKey));
  const pdbs = ofKind<{ spec: { selector: Selector } }>(objects, 'PodDisruptionBudget');
  const policies = ofKind<{ spec: { podSelector: Selector; policyTypes?: string[]; ingress?: unknown[]; egress?: unknown[] } }>(objects, 'NetworkPolicy');

  for (const workload of workloads(objects)) {
    const name = workload.metadata.name;
    const pod = workload.spec.template.spec;
    const labels = workload.spec.template.metadata.labels;
    if (!pod.securityContext?.runAsNonRoot) problems.push(`${name}: not runAsNonRoot`);
    for (const container of pod.containers) {
      const where = `${name}/${container.name}`;
      const readiness = container.readinessProbe?.httpGet;
      const liveness = container.livenessProbe?.httpGet;
      if (!readiness) problems.push(`${where}: no readiness probe`);
      if (!liveness) problems.push(`${where}: no liveness probe`);
      const opsPort = OPS_PORTS[name];
      if (opsPort !== undefined && readiness && (readiness.path !== '/readyz' || portNumber(container, readiness.port) !== opsPort)) {
        problems.push(`${where}: readiness is not /readyz on ${opsPort}`);
      }
      if (opsPort !== undefined && liveness && (liveness.path !== '/healthz' || portNumber(container, liveness.port) !== opsPort)) {
        problems.push(`${where}: liveness is not /healthz on ${opsPort}`);
      }
      if (opsPort !== undefined && envValue(container, 'OPS_PORT') !== String(opsPort)) problems.push(`${where}: OPS_PORT is not ${opsPort}`);
      if (!container.resources?.requests?.cpu || !container.resources.requests.memory) problems.push(`${where}: no cpu and memory requests`);
      if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: may escalate privileges`);
      for (const variable of container.env ?? []) {
        if (SECRET_NAME.test(variable.name) && !variable.valueFrom?.secretKeyRef) problems.push(`${where}: ${variable.name} is not read from a Secret`);
      }
    }
    if (!pdbs.some((pdb) => selects(pdb.spec.selector, labels))) problems.push(`${name}: no PodDisruptionBudget`);
    const allowed = policies.some((policy) => Object.keys(policy.spec.podSelector.matchLabels ?? {}).length > 0 && selects(policy.spec.podSelector, labels));
    if (!pod.hostNetwork && !allowed) problems.push(`${name}: no NetworkPolicy allows its traffic`);
  }

  const sfu = workloads(objects).find((workload) => workload.metadata.name === 'sfu');
  if (!sfu) problems.push('no sfu workload');
  else {
    const pod = sfu.spec.template.spec;
    const container = pod.containers[0]!;
    if (sfu.kind !== 'StatefulSet' && sfu.kind !== 'Deployment') problems.push('sfu: an HPA cannot scale a ' + sfu.kind);
    if (!pod.hostNetwork) problems.push('sfu: not on the host network');
    // With host networking the declared ports are the node's: one UDP and one TCP port per worker, from SFU_RTC_PORT_BASE.
    const workers = Number(envValue(container, 'SFU_WORKERS'));
    const portBase = Number(envValue(container, 'SFU_RTC_PORT_BASE'));
    const media = Array.from({ length: workers }, (_, i) => portBase + i);
    for (const protocol of ['UDP', 'TCP']) {
      const declared = (container.ports ?? []).filter((port) => port.name?.startsWith(`rtc-${protocol.toLowerCase()}-`)).map((port) => port.containerPort);
      if (JSON.stringify(declared) !== JSON.stringify(media)) problems.push(`sfu: ${protocol} media ports ${declared.join(',')} are not one per worker from ${portBase}`);
    }
    const stopSeconds = (Number(envValue(container, 'SFU_DRAIN_TIMEOUT_MS') ?? 60_000) + Number(envValue(container, 'SHUTDOWN_TIMEOUT_MS') ?? 10_000)) / 1000;
    if (!((pod.terminationGracePeriodSeconds ?? 30) > stopSeconds)) problems.push(`sfu: grace period not above the drain and stop (${stopSeconds} s)`);
    const hook = container.lifecycle?.preStop?.exec?.command.join(' ') ?? '';
    if (!/^node \/etc\/concord\/hooks\/sfu-prestop\.cjs$/.test(hook)) problems.push('sfu: no preStop drain hook');
    const hooks = pod.volumes?.find((volume) => volume.name === 'hooks')?.configMap?.name;
    const hookMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === hooks) as { data?: Record<string, string> } | undefined;
    if (!hookMap?.data?.['sfu-prestop.cjs']) problems.push('sfu: the preStop script is not mounted');
  }

  for (const hpa of ofKind<{ spec: { scaleTargetRef: { kind: string; name: string }; metrics: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[] } }>(objects, 'HorizontalPodAutoscaler')) {
    const target = hpa.spec.scaleTargetRef;
    const namespace = hpa.metadata.namespace ?? '';
    if (!byKey.has(`${target.kind}/${namespace}/${target.name}`)) problems.push(`HPA ${hpa.metadata.name}: its target ${target.kind}/${target.name} does not exist`);
    const signals = hpa.spec.metrics.map((metric) => metric.resource?.name ?? metric.pods?.metric.name);
    const expected = target.name === 'sfu' ? 'concord_sfu_load_ratio' : 'cpu';
    if (!signals.includes(expected)) problems.push(`HPA ${hpa.metadata.name}: does not scale on ${expected}`);
  }
  for (const name of ['api', 'signaling', 'sfu']) {
    if (!ofKind<{ spec: { scaleTargetRef: { name: string } } }>(objects, 'HorizontalPodAutoscaler').some((hpa) => hpa.spec.scaleTargetRef.name === name)) problems.push(`${name}: no HPA`);
  }

  const defaultDeny = policies.some(
    (policy) =>
      Object.keys(policy.spec.podSelector.matchLabels ?? {}).length === 0 &&
      ['Ingress', 'Egress'].every((type) => policy.spec.policyTypes?.includes(type)) &&
      !policy.spec.ingress?.length &&
      !policy.spec.egress?.length,
  );
  if (!defaultDeny) problems.push('no default-deny NetworkPolicy');

  if (objects.some((object) => object.kind === 'Secret')) problems.push('a Secret with values is part of the manifests');
  for (const map of ofKind<{ data?: Record<string, string> }>(objects, 'ConfigMap')) {
    for (const key of Object.keys(map.data ?? {})) if (SECRET_NAME.test(key)) problems.push(`ConfigMap ${map.metadata.name}: holds ${key}`);
  }

  type IngressSpec = { spec: { rules: { http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] } };
  const socketIngress = ofKind<IngressSpec>(objects, 'Ingress').find((ingress) =>
    ingress.spec.rules.some((rule) => rule.http.paths.some((route) => route.path === '/socket.io/' && route.backend.service.name === 'signaling')),
  );
  const annotations = socketIngress?.metadata.annotations ?? {};
  if (annotations['nginx.ingress.kubernetes.io/affinity'] !== 'cookie') problems.push('/socket.io/: no sticky cookie affinity');
  if (!(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) > 25)) problems.push('/socket.io/: read timeout not above socket.io\'s ping');
  return problems;
}

/** The kubernetes-models class for an object's apiVersion and kind. */
function modelOf(object: K8sObject): { new (data: unknown): { validate(): void } } {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : [undefined, object.apiVersion];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const models = require(`kubernetes-models/${group ? `${group}/` : ''}${version}`) as Record<string, { new (data: unknown): { validate(): void } }>;
  const model = models[object.kind];
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model;
}

function schemaErrors(objects: K8sObject[]): string[] {
  const errors: string[] = [];
  for (const object of objects) {
    try {
      new (modelOf(object))(object).validate();
    } catch (error) {
      errors.push(`${objectKey(object)}: ${(error as Error).message}`);
    }
  }
  return errors;
}

describe.each(BUILDS)('docker/k8s/%s', (build) => {
  const objects = rendered.get(build)!;

  test('every object validates against the Kubernetes API schemas', () => {
    expect(objects.length).toBeGreaterThan(20);
    expect(schemaErrors(objects)).toEqual([]);
  });

  test('probes, budgets, autoscalers, SFU drain, secrets, network policies and sticky sockets hold', () => {
    expect(problemsOf(objects)).toEqual([]);
  });
});

test('the overlays set their namespace, images and sizes', () => {
  const small = rendered.get('overlays/small')!;
  const production = rendered.get('overlays/production')!;
  for (const objects of [small, production]) {
    expect(objects.filter((object) => object.kind !== 'Namespace').every((object) => object.metadata.namespace === 'concord')).toBe(true);
    for (const workload of workloads(objects)) expect(workload.spec.template.spec.containers[0]!.image).not.toMatch(/^concord-/);
  }
  const sfuOf = (objects: K8sObject[]) => workloads(objects).find((workload) => workload.metadata.name === 'sfu')!.spec.template.spec.containers[0]!;
  expect(envValue(sfuOf(small), 'SFU_WORKERS')).toBe('1');
  expect(envValue(sfuOf(production), 'SFU_WORKERS')).toBe('4');
  // One media port pair per worker.
  expect(sfuOf(small).ports!.filter((port) => port.name?.startsWith('rtc-udp-'))).toHaveLength(1);
  expect(sfuOf(production).ports!.filter((port) => port.name?.startsWith('rtc-udp-'))).toHaveLength(4);
  expect(ofKind<{ spec: { tls?: unknown[] } }>(production, 'Ingress').every((ingress) => ingress.spec.tls?.length === 1)).toBe(true);
});

test('prometheus-adapter serves the metric the SFU autoscaler asks for', () => {
  const values = parse(readFileSync(path.join(K8S, 'prometheus-adapter/values.yaml'), 'utf8')) as { rules: { custom: { seriesQuery: string; name: { as: string } }[] } };
  const hpa = ofKind<{ spec: { metrics: { pods?: { metric: { name: string } } }[] } }>(rendered.get('base')!, 'HorizontalPodAutoscaler').find((object) => object.metadata.name === 'sfu')!;
  const metric = hpa.spec.metrics[0]!.pods!.metric.name;
  const rule = values.rules.custom.find((candidate) => candidate.name.as === metric);
  expect(rule?.seriesQuery).toContain(metric);
});

const kubectlKustomize = (dir: string): string | undefined => {
  try {
    return execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch {
    return undefined;
  }
};

test('the renderer agrees with kubectl kustomize where kubectl has a recent kustomize', () => {
  for (const build of BUILDS) {
    const output = kubectlKustomize(path.join(K8S, build));
    if (output === undefined) {
      console.warn(`kubectl kustomize is not available (or too old for patches): only the built-in renderer checked ${build}`);
      continue;
    }
    const theirs = new Map(parseAllDocuments(output).map((document) => document.toJS() as K8sObject).map((object) => [objectKey(object), object]));
    const ours = new Map(rendered.get(build)!.map((object) => [objectKey(object), object]));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [key, object] of ours) expect({ key, object }).toEqual({ key, object: theirs.get(key) });
  }
});

describe('the checks fail on broken manifests', () => {
  const workload = (objects: K8sObject[], name: string) => workloads(objects).find((candidate) => candidate.metadata.name === name)!;

  test('a schema violation', () => {
    const objects = base();
    (workload(objects, 'api').spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'http';
    delete (workload(objects, 'web').spec.template.spec as Partial<PodSpec>).containers;
    const errors = schemaErrors(objects);
    expect(errors.join('\n')).toMatch(/Deployment\/\/api: .*containerPort must be integer/);
    expect(errors.join('\n')).toMatch(/Deployment\/\/web: .*must have required property containers/);
  });

  test('a missing probe, budget, HPA target, grace period, secret reference, default deny or sticky cookie', () => {
    const objects = base();
    delete workload(objects, 'api').spec.template.spec.containers[0]!.livenessProbe;
    workload(objects, 'signaling').spec.template.spec.containers[0]!.readinessProbe!.httpGet!.port = 3002;
    const sfu = workload(objects, 'sfu').spec.template.spec;
    sfu.terminationGracePeriodSeconds = 60;
    sfu.hostNetwork = false;
    sfu.containers[0]!.env!.find((variable) => variable.name === 'SFU_WORKERS')!.value = '3';
    workload(objects, 'web').spec.template.spec.containers[0]!.env = [{ name: 'SFU_SECRET', value: 'literally-the-secret' }];
    const broken = objects.filter(
      (object) =>
        !(object.kind === 'PodDisruptionBudget' && object.metadata.name === 'web') &&
        !(object.kind === 'NetworkPolicy' && object.metadata.name === 'default-deny') &&
        !(object.kind === 'Deployment' && object.metadata.name === 'api'),
    );
    broken.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'concord-secrets' }, stringData: { SFU_SECRET: 'x' } });
    const ingress = broken.find((object) => object.metadata.name === 'concord-signaling')!;
    delete ingress.metadata.annotations!['nginx.ingress.kubernetes.io/affinity'];
    expect(problemsOf(broken)).toEqual(
      expect.arrayContaining([
        'signaling/signaling: readiness is not /readyz on 9102',
        'sfu: not on the host network',
        'sfu: UDP media ports 40000,40001 are not one per worker from 40000',
        'sfu: grace period not above the drain and stop (75 s)',
        'web/web: SFU_SECRET is not read from a Secret',
        'web: no PodDisruptionBudget',
        'HPA api: its target Deployment/api does not exist',
        'no default-deny NetworkPolicy',
        'a Secret with values is part of the manifests',
        '/socket.io/: no sticky cookie affinity',
      ]),
    );
    const noLiveness = base();
    delete workload(noLiveness, 'api').spec.template.spec.containers[0]!.livenessProbe;
    expect(problemsOf(noLiveness)).toEqual(['api/api: no liveness probe']);
  });

  test('the renderer refuses what it does not implement and patches that miss', () => {
    expect(() => applyOperation({ spec: {} }, { op: 'replace', path: '/spec/replicas', value: 1 })).toThrow(/nothing there/);
    expect(() => applyOperation({ env: [{ name: 'A' }] }, { op: 'test', path: '/env/0/name', value: 'B' })).toThrow(/test \/env\/0\/name failed/);
    const patched = { env: [{ name: 'A', value: '1' }] };
    applyOperation(patched, { op: 'replace', path: '/env/0/value', value: '2' });
    applyOperation(patched, { op: 'add', path: '/env/-', value: { name: 'B' } });
    expect(patched).toEqual({ env: [{ name: 'A', value: '2' }, { name: 'B' }] });
  });
});

test('the SFU preStop hook starts the drain with the secret and waits for the node to exit', async () => {
  const requests: string[] = [];
  let drainedAt = 0;
  // Stands in for the SFU's ops listener: accepts POST /drain, then answers /healthz for 1.5 s and closes as the exiting node would.
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    if (req.url === '/drain') {
      drainedAt = Date.now();
      setTimeout(() => server.close(), 1_500);
      server.closeIdleConnections();
      res.writeHead(202, { connection: 'close' }).end('{"status":"draining"}');
    } else res.writeHead(200, { connection: 'close' }).end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const hook = spawn(process.execPath, [path.join(K8S, 'base/sfu-prestop.cjs')], {
    env: { PATH: process.env.PATH, OPS_HOST: '127.0.0.1', OPS_PORT: String(port), SFU_SECRET: 'the-cluster-secret-0123', SFU_DRAIN_TIMEOUT_MS: '20000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  hook.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => hook.once('exit', resolve));
  expect(code).toBe(0);
  expect(requests[0]).toBe('POST /drain Bearer the-cluster-secret-0123');
  expect(requests.slice(1).every((request) => request.startsWith('GET /healthz'))).toBe(true);
  expect(Date.now() - drainedAt).toBeGreaterThanOrEqual(1_400);
  expect(stderr).toContain('drained and stopped');
});
