// vm policy: validate a Cedar policy set strictly, check one request against it, and run policy test files.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { PolicyEngine, PolicyProblem, PolicyRequest } from '@vaultmesh/policy';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

const POLICIES = ['--policies <file>', 'Cedar policy file (default: the shipped default.cedar)'] as const;

/** @vaultmesh/policy, loaded on first use so that other commands do not load the Cedar wasm. */
const lib = () => import('@vaultmesh/policy');

/** The policy file a command uses: --policies, else the shipped default set. */
async function policyPath(o: { policies?: string }): Promise<string> {
  return o.policies ? resolve(o.policies) : (await lib()).DEFAULT_POLICIES_PATH;
}

/** A problem as `file:line:col: policy "id": message`. */
const located = (file: string, p: PolicyProblem) => {
  const who = p.policyId === null ? 'policy set' : `policy "${p.policyId}"`;
  return `${file}${p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : ''}: ${who}: ${p.message}`;
};

async function loadEngine(file: string): Promise<PolicyEngine> {
  const { createPolicyEngine, readPolicyFile } = await lib();
  return createPolicyEngine({ policies: readPolicyFile(file) });
}

/** Splits "type:id:role" (the id may itself contain ':'). */
function parsePrincipal(text: string, tenant: string): PolicyRequest['principal'] {
  const parts = text.split(':');
  if (parts.length < 3 || parts.some((p) => p === ''))
    throw new CliError(
      EXIT.USAGE,
      `--principal must be type:id:role (e.g. agent:bot@acme:agent), got "${text}"`,
    );
  const type = parts[0]!;
  const role = parts[parts.length - 1]!;
  return {
    type,
    id: parts.slice(1, -1).join(':'),
    role,
    tenant,
  } as PolicyRequest['principal'];
}

/** Splits "type:id". */
function parseResource(text: string): { type: string; id: string } {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1)
    throw new CliError(EXIT.USAGE, `--resource must be type:id (e.g. plan:p1), got "${text}"`);
  return { type: text.slice(0, i), id: text.slice(i + 1) };
}

function parseContext(text: string | undefined): PolicyRequest['context'] {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(EXIT.USAGE, `--context is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError(EXIT.USAGE, '--context must be a JSON object');
  return value as PolicyRequest['context'];
}

interface CheckOpts {
  principal: string;
  action: string;
  resource: string;
  tenant: string;
  principalTenant?: string;
  environment?: string;
  region?: string;
  context?: string;
  policies?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const policy = program
    .command('policy')
    .description('Cedar policies: validate a set strictly, check a request, run policy test files');

  policy
    .command('validate')
    .description('validate a policy set strictly against the VaultMesh schema (exit 1 listing every error)')
    .option(...POLICIES)
    .option('--json', 'machine-readable report')
    .action(async (o: { policies?: string; json?: boolean }) => {
      const { readPolicyFile, validatePolicies } = await lib();
      const file = await policyPath(o);
      const v = validatePolicies({ policies: readPolicyFile(file) });
      if (o.json) printJson({ file, ...v });
      else if (v.ok) {
        print(`valid: ${file}: ${v.policyIds.length} policies, policy set hash ${v.policySetHash}`);
        for (const w of v.warnings) print(`  warning: ${located(file, w)}`);
      } else {
        print(`invalid: ${file}: ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`);
        for (const e of v.errors) print(`  ${located(file, e)}`);
        for (const w of v.warnings) print(`  warning: ${located(file, w)}`);
      }
      if (!v.ok) throw new CliError(EXIT.FAILED, `${file}: policy set invalid (${v.errors.length} errors)`);
    });

  policy
    .command('check')
    .description('decide one request against a policy set (exit 0 allow, 1 deny)')
    .requiredOption(
      '--principal <type:id:role>',
      'who asks, e.g. agent:bot@acme:agent (type: person, agent, service)',
    )
    .requiredOption(
      '--action <action>',
      'e.g. plan, execute:shell, approve, route, read, record, tool:<name>',
    )
    .requiredOption(
      '--resource <type:id>',
      'e.g. plan:p1 (type: plan, tenant, environment, provider, ledger, tool)',
    )
    .requiredOption(
      '--tenant <tenant>',
      "the resource's tenant (and the principal's, unless --principal-tenant)",
    )
    .option('--principal-tenant <tenant>', 'the principal\'s tenant scope, e.g. "*" for every tenant')
    .option('--environment <env>', "the resource's environment")
    .option('--region <region>', "the resource's region, e.g. eu-west-1")
    .option('--context <json>', 'request context as a JSON object, e.g. \'{"dryRun":true,"residency":"eu"}\'')
    .option(...POLICIES)
    .option('--json', 'machine-readable decision')
    .action(async (o: CheckOpts) => {
      const request: PolicyRequest = {
        principal: parsePrincipal(o.principal, o.principalTenant ?? o.tenant),
        action: o.action,
        resource: {
          ...parseResource(o.resource),
          tenant: o.tenant,
          ...(o.environment !== undefined ? { environment: o.environment } : {}),
          ...(o.region !== undefined ? { region: o.region } : {}),
        } as PolicyRequest['resource'],
        context: parseContext(o.context),
      };
      const engine = await loadEngine(await policyPath(o));
      const d = engine.decideSync(request);
      if (o.json) printJson({ ...d, request });
      else {
        print(
          `${d.decision}${d.reasons.length > 0 ? ` (${d.reasons.join(', ')})` : ' (no policy applies: default deny)'}`,
        );
        for (const e of d.errors) print(`  error: ${e}`);
        print(`  policy set ${d.policySetHash}`);
      }
      if (d.decision !== 'allow') throw new CliError(EXIT.FAILED, 'denied');
    });

  policy
    .command('test <files...>')
    .description('run policy test files (JSON); exit 1 if any case fails')
    .option(
      '--policies <file>',
      "Cedar policy file for every test file (default: each file's own, else default.cedar)",
    )
    .option('--json', 'machine-readable report')
    .action(async (files: string[], o: { policies?: string; json?: boolean }) => {
      const { DEFAULT_POLICIES_PATH, readPolicyTestFile, runPolicyTests } = await lib();
      const engines = new Map<string, PolicyEngine>();
      const reports = [];
      let failed = 0;
      for (const f of files) {
        const { file, policiesPath } = readPolicyTestFile(f);
        const path = o.policies ? resolve(o.policies) : (policiesPath ?? DEFAULT_POLICIES_PATH);
        let engine = engines.get(path);
        if (!engine) engines.set(path, (engine = await loadEngine(path)));
        const report = await runPolicyTests(engine, file);
        failed += report.failed;
        reports.push({ file: f, policies: path, ...report });
        if (!o.json) {
          print(`${f} (${path}): ${report.passed} passed, ${report.failed} failed`);
          for (const r of report.results)
            print(`  ${r.pass ? '✓' : '✗'} ${r.name}${r.message ? `: ${r.message}` : ''}`);
        }
      }
      if (o.json) printJson({ ok: failed === 0, files: reports });
      if (failed > 0)
        throw new CliError(EXIT.FAILED, `${failed} policy test case${failed === 1 ? '' : 's'} failed`);
    });
}
