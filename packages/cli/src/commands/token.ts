// vm token: API tokens (hashed at rest) with a role and a tenant scope.
import type { Command } from 'commander';
import {
  AUDIENCES,
  ROLES,
  createToken,
  parseAudience,
  parsePollRoles,
  publicTokenView,
} from '@vaultmesh/auth';
import { dataDir, withStorage, parseDuration, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

export function register(program: Command): void {
  const token = program.command('token').description('manage API tokens');
  withData(
    token
      .command('create')
      .description(`create a token; the secret is printed once and only its SHA-256 is stored`)
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
      .option('--tenant <tenant>', 'tenant scope, or * for all tenants', '*')
      .option('--name <name>', 'a name, unique among the tenant’s live tokens (default: token-<id>)')
      .option('--poll-roles <list>', 'go/no-go poll roles the holder votes as, e.g. sre,security')
      .option('--ttl <duration>', 'expire after e.g. 30d, 12h')
      .option(
        '--audience <list>',
        `where it may be presented: a comma list of ${AUDIENCES.join(', ')} (default: everywhere)`,
      )
      .option('--json', 'machine-readable output'),
  ).action(
    async (o: {
      data?: string;
      role: string;
      tenant: string;
      name?: string;
      ttl?: string;
      audience?: string;
      pollRoles?: string;
      json?: boolean;
    }) => {
      const ttlMs = o.ttl ? parseDuration(o.ttl) : undefined;
      const audience = o.audience !== undefined ? parseAudience(o.audience) : undefined;
      const pollRoles = o.pollRoles !== undefined ? parsePollRoles(o.pollRoles) : undefined;
      const { record, token: secret } = await withStorage(dataDir(o), (s) =>
        createToken(s, {
          ...(o.name !== undefined ? { name: o.name } : {}),
          role: o.role,
          tenant: o.tenant,
          ttlMs,
          audience,
          pollRoles,
        }),
      );
      if (o.json) return printJson({ ...publicTokenView(record), token: secret });
      print(
        `created token ${record.id} (${record.role}, tenant ${record.tenant}` +
          `${record.audience ? `, audience ${record.audience.join(',')}` : ''}` +
          `${record.pollRoles ? `, votes as ${record.pollRoles.join(',')}` : ''})`,
      );
      print(secret);
      process.stderr.write('store this token now: it cannot be shown again\n');
    },
  );
  withData(
    token
      .command('list')
      .description('list tokens (never their secrets)')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; json?: boolean }) => {
    const list = await withStorage(dataDir(o), (s) => s.listTokens());
    if (o.json) return printJson({ items: list.map(publicTokenView) });
    printTable(
      list.map((t) => [
        t.id,
        t.name,
        t.role,
        t.tenant,
        t.audience ? t.audience.join(',') : '*',
        new Date(t.createdAt).toISOString(),
        t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt < Date.now() ? 'expired' : 'active',
      ]),
      ['ID', 'NAME', 'ROLE', 'TENANT', 'AUDIENCE', 'CREATED', 'STATE'],
    );
  });
  withData(
    token
      .command('revoke <id>')
      .description('revoke a token immediately')
      .option('--json', 'machine-readable output'),
  ).action(async (id: string, o: { data?: string; json?: boolean }) => {
    const ok = await withStorage(dataDir(o), (s) => s.revokeToken(id, Date.now()));
    if (!ok) throw new CliError(EXIT.NOT_FOUND, `no active token ${id}`);
    if (o.json) printJson({ id, revoked: true });
    else print(`revoked ${id}`);
  });
}
