// Kubernetes manifests from disk for a deploy intent (vm mcp strategist --intent … --manifests k8s/): a folder with
// a kustomization.yaml gives the files its `resources` list (in that order), any other folder its *.yaml, *.yml and
// *.json files by name; a file may hold several YAML documents (read as control-plane config texts are: plain data,
// bounded in size). Every object must name its apiVersion, kind and metadata.name.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigDocuments } from '@vaultmesh/control/config-text';
import { CliError, EXIT } from './exit.ts';

const MANIFEST_FILE = /\.(ya?ml|json)$/;

function filesOf(path: string): string[] {
  if (!existsSync(path)) throw new CliError(EXIT.NOT_FOUND, `--manifests ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  const kustomization = ['kustomization.yaml', 'kustomization.yml']
    .map((n) => join(path, n))
    .find(existsSync);
  if (kustomization) {
    const k = parse(kustomization)[0] as { resources?: unknown } | undefined;
    if (!Array.isArray(k?.resources) || k.resources.some((r) => typeof r !== 'string'))
      throw new CliError(EXIT.USAGE, `${kustomization} has no list of resources`);
    return (k.resources as string[]).map((r) => join(path, r));
  }
  return readdirSync(path)
    .filter((n) => MANIFEST_FILE.test(n))
    .sort()
    .map((n) => join(path, n));
}

const parse = (file: string): unknown[] => parseConfigDocuments(readFileSync(file, 'utf8'), file);

/** The Kubernetes objects under `path`, in order. */
export function readManifests(path: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const file of filesOf(path))
    for (const doc of parse(file)) {
      const o = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
      if (
        typeof o?.apiVersion !== 'string' ||
        typeof o.kind !== 'string' ||
        typeof o.metadata?.name !== 'string'
      )
        throw new CliError(EXIT.USAGE, `${file}: every manifest needs apiVersion, kind and metadata.name`);
      out.push(doc as Record<string, unknown>);
    }
  if (out.length === 0) throw new CliError(EXIT.USAGE, `--manifests ${path} holds no Kubernetes objects`);
  return out;
}
