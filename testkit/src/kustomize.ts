import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/*
 * `kustomize build` for the subset docker/k8s uses, so the manifests can be rendered and checked
 * where no kustomize binary is installed (Debian's kubectl is too old for `patches:`, npm has
 * none). Anything outside the subset throws rather than render differently from kustomize; where
 * `kubectl kustomize` exists, tests/k8s-manifests.test.ts compares the two renderings.
 *
 * The subset: resources (files and directories), configMapGenerator (files, no name hash),
 * labels (metadata only), namespace, images, and patches as JSON 6902 operations (add, replace,
 * remove, test) with a target of kind and name (a regular expression, as in kustomize).
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  configMapGenerator?: { name: string; files: string[]; options?: { disableNameSuffixHash?: boolean } }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind?: string; name?: string }; patch?: string; path?: string }[];
}

type JsonPatchOperation = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'configMapGenerator', 'images', 'patches']);
/** Kinds without a namespace among those the manifests use. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService', 'CustomResourceDefinition']);

/** The objects `kustomize build dir` prints, in resource order. */
export function kustomizeBuild(dir: string): K8sObject[] {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(kustomization).filter((field) => !KNOWN_FIELDS.has(field));
  if (unknown.length > 0) throw new Error(`${dir}: kustomization fields this renderer does not implement: ${unknown.join(', ')}`);

  const objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const where = path.join(dir, resource);
    objects.push(...(statSync(where).isDirectory() ? kustomizeBuild(where) : readObjects(where)));
  }
  for (const generator of kustomization.configMapGenerator ?? []) objects.push(generatedConfigMap(dir, generator));
  for (const patch of kustomization.patches ?? []) applyPatch(dir, objects, patch);
  if (kustomization.namespace) {
    for (const object of objects) if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = kustomization.namespace;
  }
  for (const { pairs, includeSelectors, includeTemplates } of kustomization.labels ?? []) {
    if (includeSelectors || includeTemplates) throw new Error(`${dir}: labels reach metadata only here (includeSelectors/includeTemplates unsupported)`);
    for (const object of objects) object.metadata.labels = { ...object.metadata.labels, ...pairs };
  }
  for (const image of kustomization.images ?? []) for (const object of objects) retag(object, image);
  assertUnique(dir, objects);
  return objects;
}

/** What identifies an object in a cluster. */
export const objectKey = (object: K8sObject): string => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

function generatedConfigMap(dir: string, generator: NonNullable<Kustomization['configMapGenerator']>[number]): K8sObject {
  if (!generator.options?.disableNameSuffixHash) throw new Error(`${dir}: configMapGenerator ${generator.name} needs disableNameSuffixHash here`);
  const data: Record<string, string> = {};
  for (const entry of generator.files) {
    const [key, file] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
    data[key] = readFileSync(path.join(dir, file), 'utf8');
  }
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data };
}

function applyPatch(dir: string, objects: K8sObject[], patch: NonNullable<Kustomization['patches']>[number]): void {
  const text = patch.patch ?? readFileSync(path.join(dir, patch.path ?? ''), 'utf8');
  const operations = parse(text) as JsonPatchOperation[];
  if (!patch.target || !Array.isArray(operations)) throw new Error(`${dir}: only JSON 6902 patches with a target are implemented`);
  const name = patch.target.name === undefined ? undefined : new RegExp(`^(?:${patch.target.name})$`);
  const targets = objects.filter((object) => (!patch.target.kind || object.kind === patch.target.kind) && (!name || name.test(object.metadata.name)));
  if (targets.length === 0) throw new Error(`${dir}: a patch matches no object (${JSON.stringify(patch.target)})`);
  for (const object of targets) for (const operation of operations) applyOperation(object, operation, `${dir} ${objectKey(object)}`);
}

/** RFC 6902 on a parsed object; a path that does not resolve throws, as kustomize does. */
export function applyOperation(object: unknown, operation: JsonPatchOperation, where = 'patch'): void {
  const tokens = operation.path.split('/').slice(1).map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop();
  if (last === undefined) throw new Error(`${where}: ${operation.op} needs a path below the root`);
  let parent: unknown = object;
  for (const token of tokens) {
    parent = (parent as Record<string, unknown> | undefined)?.[token];
    if (parent === undefined || parent === null || typeof parent !== 'object') throw new Error(`${where}: ${operation.path} does not resolve`);
  }
  const list = Array.isArray(parent) ? (parent as unknown[]) : undefined;
  const map = parent as Record<string, unknown>;
  const index = last === '-' ? (list?.length ?? 0) : Number(last);
  const exists = list ? last !== '-' && index < list.length : last in map;
  if (operation.op !== 'add' && !exists) throw new Error(`${where}: ${operation.op} ${operation.path}: nothing there`);
  const value = structuredClone(operation.value);
  switch (operation.op) {
    case 'test':
      if (JSON.stringify(list ? list[index] : map[last]) !== JSON.stringify(operation.value)) throw new Error(`${where}: test ${operation.path} failed`);
      return;
    case 'remove':
      if (list) list.splice(index, 1);
      else delete map[last];
      return;
    case 'replace':
      if (list) list[index] = value;
      else map[last] = value;
      return;
    case 'add':
      if (list) list.splice(index, 0, value);
      else map[last] = value;
      return;
    default:
      throw new Error(`${where}: operation ${(operation as { op: string }).op} is not implemented`);
  }
}

/** kustomize's images transformer: containers whose image is `name` (with or without a tag). */
function retag(object: K8sObject, image: { name: string; newName?: string; newTag?: string }): void {
  const pod = (object.spec as { template?: { spec?: { containers?: { image: string }[]; initContainers?: { image: string }[] } } } | undefined)?.template?.spec;
  for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    const [repository, tag] = container.image.split(':') as [string, string | undefined];
    if (repository !== image.name) continue;
    const newTag = image.newTag ?? tag;
    container.image = `${image.newName ?? repository}${newTag ? `:${newTag}` : ''}`;
  }
}

function assertUnique(dir: string, objects: K8sObject[]): void {
  const seen = new Set<string>();
  for (const object of objects) {
    const key = objectKey(object);
    if (seen.has(key)) throw new Error(`${dir}: ${key} is defined twice`);
    seen.add(key);
  }
}
