// vm spawn templates|create|verify|update: services generated from VaultMesh's templates, governed from birth.
// `create` renders locally (bad names and options are refused before anything is written), stages the tree beside
// the target, asks the node to record it (the node renders it again, asks the tenant's policy, appends the `spawn`
// receipt) and only then moves it into place. `verify` compares a tree with what generated it and with its
// receipt; `update` applies a newer template version as a three-way merge and records that too.
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  applyUpdate,
  compareTree,
  getTemplate,
  listTemplates,
  manifestOf,
  metadataFiles,
  planUpdate,
  render,
  stageTree,
  writeFiles,
  type ReceiptRef,
  type Rendered,
  type SpawnManifest,
} from '@vaultmesh/spawn';
import { apiCall, withApi, type ApiOpts } from '../api-client.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** What the node answers to POST /api/spawn. */
interface Recorded {
  index: number;
  leafHash: string;
  origin: string;
  tenant: string;
  version: string;
  treeSha256: string;
}

interface CreateOpts extends ApiOpts {
  template: string;
  templateVersion?: string;
  dir?: string;
  tenant?: string;
  set: string[];
  description?: string;
  port?: string;
  db?: string;
  queue?: string;
  namespace?: string;
  image?: string;
  replicas?: string;
  environment?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** The flags that are shorthands for template parameters. */
const PARAM_FLAGS = [
  'description',
  'port',
  'db',
  'queue',
  'namespace',
  'image',
  'replicas',
  'environment',
] as const;

/** A parameter's value typed by the template's schema ("3000" → 3000 for an integer). */
function typed(template: string, key: string, raw: string): string | number | boolean {
  const schema = (getTemplate(template).parameters['properties'] as Record<string, { type?: string }>)[key];
  if (schema?.type === 'integer' || schema?.type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n))
      throw new CliError(EXIT.USAGE, `--${key} must be a number, got "${raw}"`);
    return n;
  }
  if (schema?.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false')
      throw new CliError(EXIT.USAGE, `--${key} must be true or false, got "${raw}"`);
    return raw === 'true';
  }
  return raw;
}

/** The template parameters of `create`: the shorthand flags, then each --set key=value. */
function paramsOf(o: CreateOpts): Record<string, string | number | boolean> {
  const params: Record<string, string | number | boolean> = {};
  for (const k of PARAM_FLAGS) {
    const v = o[k];
    if (v !== undefined) params[k] = typed(o.template, k, v);
  }
  for (const pair of o.set) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(EXIT.USAGE, `--set takes key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    params[key] = typed(o.template, key, pair.slice(eq + 1));
  }
  return params;
}

/** Where the node put a receipt, as a manifest names it. */
const receiptRef = (r: Recorded): ReceiptRef => ({ index: r.index, leafHash: r.leafHash, origin: r.origin });

function printTree(r: Rendered): void {
  print(`${r.template}@${r.version} for ${r.service}: ${r.files.size} files, tree sha256 ${r.treeSha256}`);
  const width = Math.max(...[...r.files.keys()].map((p) => p.length));
  for (const [path, content] of r.files)
    print(
      `  ${path.padEnd(width)}  ${String(Buffer.byteLength(content)).padStart(6)} B  ${r.purposes.get(path)}`,
    );
}

/** The tenant a spawn goes to: --tenant, else what the node says this token's spawns go to. */
async function spawnTenant(o: CreateOpts): Promise<string> {
  if (o.tenant !== undefined) return o.tenant;
  if (o.dryRun) return 'default';
  return (await apiCall<{ tenant: string }>(o, 'GET', '/api/spawn/templates')).body.tenant;
}

async function create(name: string, o: CreateOpts): Promise<void> {
  const params = paramsOf(o);
  if (params['tenant'] !== undefined)
    throw new CliError(EXIT.USAGE, 'the tenant is the spawn tenant: use --tenant, not --set tenant=');
  params['tenant'] = await spawnTenant(o);
  const rendered = render({
    template: o.template,
    service: name,
    params,
    ...(o.templateVersion !== undefined ? { version: o.templateVersion } : {}),
  });
  if (o.dryRun) {
    if (o.json)
      printJson({
        template: rendered.template,
        version: rendered.version,
        service: rendered.service,
        params: rendered.params,
        treeSha256: rendered.treeSha256,
        files: [...rendered.files].map(([path, content]) => ({
          path,
          bytes: Buffer.byteLength(content),
          purpose: rendered.purposes.get(path),
        })),
      });
    else {
      printTree(rendered);
      print('(dry run: nothing written, nothing recorded)');
    }
    return;
  }
  const dir = o.dir ?? name;
  const staged = stageTree(dir, rendered.files);
  let recorded: Recorded;
  try {
    recorded = (
      await apiCall<Recorded>(o, 'POST', '/api/spawn', {
        operation: 'create',
        template: rendered.template,
        version: rendered.version,
        service: rendered.service,
        params: rendered.params,
        treeSha256: rendered.treeSha256,
        tenant: params['tenant'],
      })
    ).body;
    const manifest = manifestOf(rendered, recorded.tenant, receiptRef(recorded));
    writeFiles(staged.staging, metadataFiles(manifest, rendered.files));
    staged.commit();
  } catch (err) {
    staged.discard();
    throw err;
  }
  if (o.json) {
    printJson({
      dir: staged.target,
      template: rendered.template,
      version: rendered.version,
      service: rendered.service,
      tenant: recorded.tenant,
      params: rendered.params,
      files: rendered.files.size,
      treeSha256: rendered.treeSha256,
      receipt: receiptRef(recorded),
    });
    return;
  }
  print(
    `spawned ${name} from ${rendered.template}@${rendered.version} into ${staged.target} (${rendered.files.size} files)`,
  );
  print(`tree sha256 ${rendered.treeSha256}`);
  print(`spawn receipt #${recorded.index} on ${recorded.origin} (tenant ${recorded.tenant})`);
  print(`next: cd ${dir} && npm install && npm test`);
}

interface VerifyOpts extends ApiOpts {
  json?: boolean;
  strict?: boolean;
}

/** Checks the manifest's receipt on the node: kind, tenant, template, version, service and digest must match. */
async function checkReceipt(m: SpawnManifest, o: ApiOpts): Promise<string[]> {
  const ref = m.receipt as ReceiptRef;
  const got = (
    await apiCall<{
      leafHash: string;
      receipt: { kind: string; tenant: string; body: Record<string, unknown> };
    }>(o, 'GET', `/api/ledger/receipts/${ref.index}`)
  ).body;
  const problems: string[] = [];
  if (got.leafHash !== ref.leafHash)
    problems.push(`leaf hash is ${got.leafHash}, the manifest says ${ref.leafHash}`);
  if (got.receipt.kind !== 'spawn') problems.push(`receipt #${ref.index} is a ${got.receipt.kind} receipt`);
  const b = got.receipt.body;
  const want: Record<string, unknown> = {
    service: m.service,
    template: m.template,
    version: m.version,
    treeSha256: m.treeSha256,
  };
  for (const [k, v] of Object.entries(want))
    if (b[k] !== v)
      problems.push(`receipt ${k} is ${JSON.stringify(b[k])}, the manifest says ${JSON.stringify(v)}`);
  if (got.receipt.tenant !== m.tenant)
    problems.push(`receipt tenant is ${got.receipt.tenant}, the manifest says ${m.tenant}`);
  return problems;
}

async function verify(dir: string, o: VerifyOpts): Promise<void> {
  const changes = compareTree(dir);
  const m = changes.manifest;
  const canCheck = m.receipt !== undefined && process.env.VM_TOKEN !== undefined;
  const receiptProblems = canCheck ? await checkReceipt(m, o) : undefined;
  const changed = changes.modified.length + changes.removed.length + changes.added.length;
  if (o.json)
    printJson({
      dir: resolve(dir),
      template: m.template,
      version: m.version,
      service: m.service,
      treeSha256: m.treeSha256,
      unchanged: changes.unchanged.length,
      modified: changes.modified,
      removed: changes.removed,
      added: changes.added,
      receipt: m.receipt ? { ...m.receipt, checked: canCheck, problems: receiptProblems ?? [] } : null,
    });
  else {
    print(
      `${basename(resolve(dir))}: ${m.template}@${m.version}, ${changes.unchanged.length} generated files unchanged, ${changed} changed since generation`,
    );
    for (const p of changes.modified) print(`  modified  ${p}`);
    for (const p of changes.removed) print(`  removed   ${p}`);
    for (const p of changes.added) print(`  added     ${p}`);
    if (!m.receipt) print('no spawn receipt recorded in the manifest');
    else if (!canCheck)
      print(
        `spawn receipt #${m.receipt.index}: not checked (set VM_TOKEN, and --url or VM_URL, to check it)`,
      );
    else if (receiptProblems!.length === 0)
      print(`spawn receipt #${m.receipt.index} on ${m.receipt.origin ?? 'the node'}: matches`);
    else for (const p of receiptProblems!) print(`  receipt: ${p}`);
  }
  if (receiptProblems && receiptProblems.length > 0)
    throw new CliError(EXIT.FAILED, `the spawn receipt does not match ${dir}'s manifest`);
  if (o.strict && changed > 0) throw new CliError(EXIT.FAILED, `${changed} files changed since generation`);
}

interface UpdateOpts extends ApiOpts {
  to?: string;
  dryRun?: boolean;
  json?: boolean;
}

async function update(dir: string, o: UpdateOpts): Promise<void> {
  const plan = planUpdate(dir, o.to);
  const changed = plan.files.filter((f) => f.action !== 'unchanged');
  let receipt: ReceiptRef | undefined;
  if (!o.dryRun) {
    const recorded = (
      await apiCall<Recorded>(o, 'POST', '/api/spawn', {
        operation: 'update',
        template: plan.manifest.template,
        version: plan.to,
        from: plan.from,
        service: plan.manifest.service,
        params: plan.manifest.params,
        tenant: plan.manifest.tenant,
        treeSha256: plan.target.treeSha256,
      })
    ).body;
    receipt = receiptRef(recorded);
    applyUpdate(dir, plan, receipt);
  }
  if (o.json)
    printJson({
      dir: resolve(dir),
      from: plan.from,
      to: plan.to,
      dryRun: o.dryRun === true,
      files: changed.map((f) => ({ path: f.path, action: f.action })),
      conflicts: plan.conflicts,
      receipt: receipt ?? null,
    });
  else {
    print(
      `${plan.manifest.template} ${plan.from} → ${plan.to}${o.dryRun ? ' (dry run: nothing written)' : ''}`,
    );
    printTable(
      changed.map((f) => [f.action, f.path]),
      ['action', 'path'],
    );
    if (receipt) print(`spawn receipt #${receipt.index} on ${receipt.origin}`);
  }
  if (plan.conflicts.length > 0)
    throw new CliError(
      EXIT.CONFLICT,
      `${plan.conflicts.length} file(s) with conflicts to resolve (look for <<<<<<< yours): ${plan.conflicts.join(', ')}`,
    );
}

export function register(program: Command): void {
  const spawn = program
    .command('spawn')
    .description('generate services governed from birth: templates, create, verify, update');

  spawn
    .command('templates')
    .description('list the templates, their versions and parameters')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const ts = listTemplates();
      if (o.json) return printJson({ templates: ts });
      for (const t of ts) {
        print(`${t.id}@${t.version}  ${t.title}: ${t.description}`);
        const props = t.parameters['properties'] as Record<
          string,
          { default?: unknown; enum?: unknown[]; description?: string }
        >;
        for (const [k, p] of Object.entries(props))
          print(
            `    --${k}${p.enum ? ` ${p.enum.join('|')}` : ''}  ${p.description ?? ''}${p.default !== undefined ? ` (default ${JSON.stringify(p.default)})` : ''}`,
          );
      }
    });

  withApi(
    spawn
      .command('create <name>')
      .description('generate a service from a template and record a spawn receipt on the node')
      .requiredOption('-t, --template <id>', 'service, worker or mcp-server (vm spawn templates)')
      .option('--template-version <x.y.z>', "the template's version (default: the newest)")
      .option('--dir <dir>', 'where to write it (default ./<name>; never overwritten)')
      .option(
        '--tenant <tenant>',
        "the tenant that governs it: records the spawn and goes into its deploy intent (default: the token's)",
      )
      .option('--description <text>', 'one line for the README and package.json')
      .option('--port <n>', 'HTTP port')
      .option('--db <db>', 'service: none or postgres')
      .option('--queue <broker>', 'worker: nats, rabbitmq or redis')
      .option('--namespace <ns>', 'Kubernetes namespace')
      .option('--image <repo>', 'container image repository, without tag')
      .option('--replicas <n>', 'Deployment replicas')
      .option('--environment <env>', 'environment the deploy intent targets')
      .option(
        '--set <key=value>',
        'any template parameter (repeatable)',
        (v: string, acc: string[]) => [...acc, v],
        [],
      )
      .option('--dry-run', 'print the files and what each is for; write and record nothing')
      .option('--json', 'machine-readable output'),
  ).action(create);

  withApi(
    spawn
      .command('verify [dir]')
      .description('what changed since generation, and whether the spawn receipt on the node matches')
      .option('--strict', 'exit 1 when any generated file changed')
      .option('--json', 'machine-readable output'),
  ).action((dir: string | undefined, o: VerifyOpts) => verify(dir ?? '.', o));

  withApi(
    spawn
      .command('update [dir]')
      .description('apply a newer template version as a three-way merge (conflicts are marked) and record it')
      .option('--to <version>', 'the version to update to (default: the newest)')
      .option('--dry-run', 'show what would change; write and record nothing')
      .option('--json', 'machine-readable output'),
  ).action((dir: string | undefined, o: UpdateOpts) => update(dir ?? '.', o));
}
