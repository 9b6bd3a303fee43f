// vm federate: peers (add, list, remove), sync (witness + mirror + merge with one or more peers), status and
// verify-merge (offline check of a merge receipt file).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Federation, OpenedNode } from '@vaultmesh/node';
import { CliError, EXIT } from '../exit.ts';
import { dataDir, keyOptions, withData } from '../context.ts';
import { createProgress, print, printJson, printTable } from '../output.ts';

interface Common {
  data?: string;
  config?: string;
  json?: boolean;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;

async function withFederation<T>(o: Common, fn: (f: Federation, node: OpenedNode) => Promise<T>): Promise<T> {
  const { createFederation, loadConfig, openNode } = await import('@vaultmesh/node');
  const cfg = loadConfig({ env: process.env, configFile: o.config });
  const node = await openNode(dataDir(o), keyOptions());
  try {
    const fed = createFederation(node, {
      intervalMs: 0,
      timeoutMs: cfg.federation.timeoutMs,
      chunkEntries: cfg.federation.chunkEntries,
      env: process.env,
    });
    try {
      return await fn(fed, node);
    } finally {
      await fed.stop();
    }
  } finally {
    await node.close();
  }
}

const common = (c: Command) =>
  withData(c)
    .option('-c, --config <file>', 'node config (env VM_CONFIG)', process.env.VM_CONFIG)
    .option('--json', 'machine-readable output');

export function register(program: Command): void {
  const fed = program
    .command('federate')
    .description('federation with peer nodes: witness (cosign), mirror and merge their ledgers');
  const peers = fed.command('peers').description('the peers this node witnesses, mirrors and merges with');

  common(
    peers
      .command('add <name>')
      .description('add a peer: its URL, its log origin and its verifier key (the trust anchor)')
      .requiredOption('--url <url>', "the peer node's base URL, e.g. http://127.0.0.1:5001")
      .requiredOption(
        '--key <vkey>',
        "the peer's note verifier key (its `vm init` output or /api/backend/status)",
      )
      .option('--origin <origin>', 'the peer log origin (default: the key name, which must equal it)')
      .option(
        '--token-env <var>',
        'environment variable holding an API token of the peer (scope *) to read its entries',
      )
      .option('--replace', 'replace an existing peer of that name'),
  ).action(
    async (
      name: string,
      o: Common & { url: string; key: string; origin?: string; tokenEnv?: string; replace?: boolean },
    ) => {
      if (!NAME.test(name))
        throw new CliError(EXIT.USAGE, `peer name "${name}" must be lowercase letters, digits, _ or -`);
      let url: URL;
      try {
        url = new URL(o.url);
      } catch {
        throw new CliError(EXIT.USAGE, `--url ${o.url} is not a URL`);
      }
      if (!/^https?:$/.test(url.protocol)) throw new CliError(EXIT.USAGE, '--url must be http or https');
      const { parseVerifierKey } = await import('@vaultmesh/ledger');
      const key = parseVerifierKey(o.key);
      const origin = o.origin ?? key.name;
      if (key.name !== origin)
        throw new CliError(
          EXIT.USAGE,
          `the key is named ${key.name}, but the origin is ${origin}: they must match`,
        );
      if (o.tokenEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(o.tokenEnv))
        throw new CliError(EXIT.USAGE, '--token-env must name an environment variable');
      await withFederation(o, async (f, node) => {
        if (origin === node.origin) throw new CliError(EXIT.USAGE, 'a node cannot be its own peer');
        if ((await f.store.getPeer(name)) && !o.replace)
          throw new CliError(EXIT.CONFLICT, `peer ${name} exists; use --replace to change it`);
        const peer = {
          name,
          url: url.href.replace(/\/+$/, ''),
          origin,
          verifierKey: o.key,
          ...(o.tokenEnv ? { tokenEnv: o.tokenEnv } : {}),
          addedAt: new Date().toISOString(),
          trusted: true,
        };
        await f.store.putPeer(peer);
        if (o.json) return printJson(peer);
        print(`peer ${name} added: ${origin} at ${peer.url}`);
      });
    },
  );

  common(peers.command('list').description('list the peers and whether each is trusted')).action(
    async (o: Common) => {
      await withFederation(o, async (f) => {
        const list = await f.store.listPeers();
        if (o.json) return printJson({ items: list });
        if (list.length === 0) return print('no peers');
        printTable(
          list.map((p) => [
            p.name,
            p.origin,
            p.url,
            p.trusted ? 'trusted' : `UNTRUSTED: ${p.untrustedReason ?? ''}`,
          ]),
          ['NAME', 'ORIGIN', 'URL', 'STATE'],
        );
      });
    },
  );

  common(peers.command('remove <name>').description('remove a peer (its mirror stays stored)')).action(
    async (name: string, o: Common) => {
      await withFederation(o, async (f) => {
        if (!(await f.store.removePeer(name))) throw new CliError(EXIT.NOT_FOUND, `no peer named ${name}`);
        if (o.json) return printJson({ name, removed: true });
        print(`peer ${name} removed`);
      });
    },
  );

  common(
    fed
      .command('sync')
      .description(
        'witness (cosign) and mirror each named peer now, then merge: both nodes compute the merged root and sign the federation receipt',
      )
      .requiredOption('--peer <name-or-url...>', 'the peer(s), by name or URL')
      .option('--no-merge', 'only witness and mirror')
      .option('-o, --out <file>', 'write the merge receipt (statement, signatures, keys) to this file'),
  ).action(async (o: Common & { peer: string[]; merge: boolean; out?: string }) => {
    await withFederation(o, async (f) => {
      const all = await f.store.listPeers();
      const names = o.peer.map((p) => {
        const found = all.find((x) => x.name === p || x.url === p.replace(/\/+$/, ''));
        if (!found) throw new CliError(EXIT.NOT_FOUND, `no peer ${p} (add it with vm federate peers add)`);
        return found.name;
      });
      const results = [];
      for (const name of names) {
        const progress = createProgress(`mirroring ${name}`, { quiet: o.json });
        const r = await f.syncPeer(name, { onProgress: (d, t) => progress.update(d, t) });
        progress.done();
        results.push({ peer: name, witness: r.witness, mirror: r.mirror });
        if (!o.json)
          print(
            `${name}: ${r.witness.status} checkpoint ${r.witness.size}${r.witness.delivered === false ? ' (cosignature not delivered)' : ''}; mirrored ${r.mirror.size} entries (+${r.mirror.fetched})`,
          );
      }
      let merge: unknown;
      if (o.merge) {
        merge = await f.merge(names);
        const m = merge as {
          statement: { mergedRoot: string; mergedSize: number };
          receipt: { index: number };
        };
        if (!o.json)
          print(
            `merged root ${m.statement.mergedRoot} over ${m.statement.mergedSize} receipts, receipt #${m.receipt.index}`,
          );
        if (o.out) writeFileSync(o.out, JSON.stringify(merge, null, 2) + '\n');
      }
      if (o.json) printJson({ peers: results, ...(merge ? { merge } : {}) });
    });
  });

  common(fed.command('status').description('each peer: trust, witnessed and mirrored sizes, lag')).action(
    async (o: Common) => {
      await withFederation(o, async (f) => {
        const s = await f.status();
        if (o.json) return printJson({ peers: s });
        if (s.length === 0) return print('no peers');
        printTable(
          s.map((p) => [
            p.peer,
            p.trusted ? 'trusted' : 'UNTRUSTED',
            String(p.witnessedSize ?? '-'),
            String(p.mirroredSize),
            String(p.lagEntries),
          ]),
          ['PEER', 'STATE', 'COSIGNED', 'MIRRORED', 'LAG'],
        );
      });
    },
  );

  fed
    .command('verify-merge <file>')
    .description('check a merge receipt file offline: its statement and every signature')
    .option('--trust-key <vkey...>', 'verifier keys to pin (default: the keys in the file)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { trustKey?: string[]; json?: boolean }) => {
      if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `${file} does not exist`);
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new CliError(EXIT.USAGE, `${file} is not JSON: ${(err as Error).message}`);
      }
      const { verifyMergeReceipt } = await import('@vaultmesh/federation');
      const report = verifyMergeReceipt(doc, o.trustKey);
      if (o.json) printJson(report);
      else {
        print(`${report.ok ? 'OK' : 'FAIL'}: merge receipt ${file}`);
        for (const c of report.checks) print(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
      }
      if (!report.ok) throw new CliError(EXIT.FAILED, 'the merge receipt does not verify');
    });
}
