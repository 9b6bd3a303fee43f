// vm memory: record, list, show, search, prove and import receipts on the local node.
import { readFileSync, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import {
  decodeReceipt,
  encodeReceipt,
  openNote,
  parseCheckpoint,
  parseStrictJson,
  toHex,
  verifyInclusion,
  type Receipt,
} from '@vaultmesh/ledger';
import { checkpointJson, epochFor, readKeyChain, type AppendInput, type StoredEntry } from '@vaultmesh/log';
import { openNode } from '@vaultmesh/node';
import { dataDir, keyOptions, localActor, withStorage, parseIndex, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { createProgress, print, printJson, printTable, summarize } from '../output.ts';

function entryJson(e: StoredEntry) {
  return { index: e.index, leafHash: toHex(e.leafHash), receipt: decodeReceipt(e.bytes) };
}

function printEntries(entries: StoredEntry[], json?: boolean): void {
  if (json) return printJson({ items: entries.map(entryJson) });
  if (entries.length === 0) return print('no receipts');
  printTable(
    entries.map((e) => {
      const r: Receipt = decodeReceipt(e.bytes);
      return [String(e.index), r.time, r.kind, r.tenant, r.actor, summarize(r.body)];
    }),
    ['INDEX', 'TIME', 'KIND', 'TENANT', 'ACTOR', 'SUMMARY'],
  );
}

const listOptions = (cmd: Command) =>
  withData(
    cmd
      .option('-k, --kind <kind>', 'only this receipt kind')
      .option('-t, --tenant <tenant>', 'only this tenant')
      .option('-n, --limit <n>', 'at most this many (1..1000)', '20')
      .option('--after <index>', 'start after this index (paging)')
      .option('--desc', 'newest first')
      .option('--json', 'machine-readable output'),
  );

interface ListOpts {
  data?: string;
  kind?: string;
  tenant?: string;
  limit: string;
  after?: string;
  desc?: boolean;
  json?: boolean;
}

function filterFrom(o: ListOpts, text?: string) {
  const limit = parseIndex(o.limit, '--limit');
  if (limit < 1 || limit > 1000) throw new CliError(EXIT.USAGE, '--limit must be between 1 and 1000');
  return {
    kind: o.kind,
    tenants: o.tenant ? [o.tenant] : undefined,
    after: o.after !== undefined ? parseIndex(o.after, '--after') : undefined,
    order: o.desc ? ('desc' as const) : ('asc' as const),
    text,
    limit,
  };
}

export function register(program: Command): void {
  const memory = program.command('memory').description('the Remembrancer: record and inspect receipts');

  withData(
    memory
      .command('record <title>')
      .description(
        'record a decision receipt, e.g. vm memory record "Use PostgreSQL" --rationale "transactional integrity"',
      )
      .option('-r, --rationale <text>', 'why')
      .option('--status <status>', 'proposed|accepted|superseded|rejected')
      .option('--tag <tag...>', 'tags')
      .option('-t, --tenant <tenant>', 'tenant', 'default')
      .option('--parent <index...>', 'parent receipt indexes')
      .option('-w, --wait', 'publish a checkpoint and print the inclusion proof')
      .option('--json', 'machine-readable output'),
  ).action(
    async (
      title: string,
      o: {
        data?: string;
        rationale?: string;
        status?: string;
        tag?: string[];
        tenant: string;
        parent?: string[];
        wait?: boolean;
        json?: boolean;
      },
    ) => {
      const node = await openNode(dataDir(o), keyOptions());
      try {
        const body: Record<string, unknown> = { title };
        if (o.rationale !== undefined) body.rationale = o.rationale;
        if (o.status !== undefined) body.status = o.status;
        if (o.tag) body.tags = o.tag;
        const r = await node.log.append({
          kind: 'decision',
          actor: localActor(),
          tenant: o.tenant,
          body,
          parents: o.parent?.map((p) => parseIndex(p, '--parent')),
        });
        const sealed = o.wait ? await node.log.waitForCheckpoint(r.index, { publish: true }) : undefined;
        if (o.json) {
          return printJson({
            index: r.index,
            leafHash: r.leafHash,
            receipt: r.receipt,
            ...(sealed
              ? {
                  // Same shape as POST /api/ledger/receipts?wait=checkpoint.
                  checkpoint: checkpointJson(sealed.checkpoint, node.origin),
                  proof: {
                    index: sealed.proof.index,
                    size: sealed.proof.size,
                    leafHash: toHex(sealed.proof.leafHash),
                    proof: sealed.proof.proof.map(toHex),
                  },
                }
              : {}),
          });
        }
        print(`recorded decision #${r.index} (leaf ${r.leafHash})`);
        if (sealed)
          print(
            `sealed in checkpoint of size ${sealed.checkpoint.size}, root ${toHex(sealed.checkpoint.root)}`,
          );
      } finally {
        await node.close();
      }
    },
  );

  listOptions(memory.command('list').description('list receipts (paged, filtered)')).action(
    async (o: ListOpts) => {
      const entries = await withStorage(dataDir(o), (s) => s.listEntries(filterFrom(o)), { readonly: true });
      printEntries(entries, o.json);
    },
  );

  listOptions(
    memory.command('search <text>').description('find receipts whose content contains the text'),
  ).action(async (text: string, o: ListOpts) => {
    if (text.length === 0 || text.length > 200)
      throw new CliError(EXIT.USAGE, 'search text must be 1..200 characters');
    const entries = await withStorage(dataDir(o), (s) => s.listEntries(filterFrom(o, text)), {
      readonly: true,
    });
    printEntries(entries, o.json);
  });

  withData(
    memory
      .command('show <index>')
      .description('show one receipt')
      .option('--json', 'machine-readable output'),
  ).action(async (index: string, o: { data?: string; json?: boolean }) => {
    const i = parseIndex(index);
    const e = await withStorage(dataDir(o), (s) => s.getEntry(i), { readonly: true });
    if (!e) throw new CliError(EXIT.NOT_FOUND, `no receipt ${i}`);
    if (o.json) return printJson(entryJson(e));
    const r = decodeReceipt(e.bytes);
    print(`receipt #${e.index}  ${r.kind}  tenant ${r.tenant}  by ${r.actor}  at ${r.time}`);
    print(`leaf hash ${toHex(e.leafHash)}`);
    if (r.parents?.length) print(`parents ${r.parents.map((p) => `#${p.index}`).join(', ')}`);
    print(JSON.stringify(r.body, null, 2));
  });

  withData(
    memory
      .command('prove <index>')
      .description(
        'prove a receipt is in the log: inclusion proof against the latest signed checkpoint, verified locally',
      )
      .option('--size <n>', 'prove against the checkpoint of this size')
      .option('--json', 'machine-readable output'),
  ).action(async (index: string, o: { data?: string; size?: string; json?: boolean }) => {
    const i = parseIndex(index);
    const node = await openNode(dataDir(o), keyOptions());
    try {
      const cp = await node.storage.getCheckpoint(
        o.size !== undefined ? parseIndex(o.size, '--size') : undefined,
      );
      if (!cp)
        throw new CliError(
          EXIT.NOT_FOUND,
          o.size
            ? `no checkpoint of size ${o.size}`
            : 'no checkpoint yet; run "vm checkpoint" or wait for the node to publish one',
        );
      if (i >= cp.size)
        throw new CliError(
          EXIT.NOT_FOUND,
          `receipt ${i} is not covered by the checkpoint of size ${cp.size} yet`,
        );
      // An older checkpoint is signed by the key of its epoch: follow the rotations from the node's key.
      const chain = await readKeyChain({
        storage: node.storage,
        origin: node.origin,
        trusted: node.key.verifierKey,
        hasher: nodeHasher,
        ed25519Verify: nodeEd25519Verify,
      });
      const signer = epochFor(chain.epochs, cp.size).key;
      const signed = parseCheckpoint(openNote(cp.note, [signer], nodeEd25519Verify).text);
      const entry = await node.log.getEntry(i);
      const leafHash = nodeHasher.hashLeaf(entry.bytes);
      const p = await node.log.inclusionProof(i, cp.size);
      const ok = verifyInclusion(nodeHasher, i, cp.size, leafHash, p.proof, signed.root);
      const out = {
        index: i,
        treeSize: cp.size,
        leafHash: toHex(leafHash),
        root: toHex(signed.root),
        proof: p.proof.map(toHex),
        checkpoint: cp.note,
        verified: ok,
      };
      if (o.json) printJson(out);
      else {
        print(`receipt #${i} leaf ${out.leafHash}`);
        print(`checkpoint ${signed.origin} size ${cp.size} root ${out.root} (signature verified)`);
        print(`inclusion proof (${p.proof.length} hashes):`);
        for (const h of out.proof) print(`  ${h}`);
        print(
          ok
            ? 'VERIFIED: the receipt is included in the signed checkpoint'
            : 'FAILED: the proof does not verify',
        );
      }
      if (!ok) throw new CliError(EXIT.FAILED, 'inclusion proof does not verify');
    } finally {
      await node.close();
    }
  });

  withData(
    memory
      .command('import <file>')
      .description(
        'append receipts from a JSON Lines file ({"kind","tenant","actor","body","parents"} per line); all lines are validated before any is written',
      )
      .option('--json', 'machine-readable output'),
  ).action(async (file: string, o: { data?: string; json?: boolean }) => {
    if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `no file ${file}`);
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim().length > 0);
    const inputs: AppendInput[] = [];
    const check = createProgress('validate', { quiet: o.json });
    lines.forEach((line, n) => {
      // I-JSON (RFC 7493): a duplicate key or a lone surrogate is refused, never silently resolved.
      const v = parseStrictJson(line, (m) => new CliError(EXIT.USAGE, `${file}:${n + 1}: ${m}`));
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new CliError(EXIT.USAGE, `${file}:${n + 1}: not a JSON object`);
      const x = v as Partial<AppendInput>;
      if (
        x.parents !== undefined &&
        (!Array.isArray(x.parents) || !x.parents.every((p) => Number.isSafeInteger(p) && p >= 0))
      ) {
        throw new CliError(EXIT.USAGE, `${file}:${n + 1}: parents must be an array of receipt indexes`);
      }
      const input = {
        kind: String(x.kind),
        actor: typeof x.actor === 'string' ? x.actor : localActor(),
        tenant: typeof x.tenant === 'string' ? x.tenant : 'default',
        body: x.body as Record<string, unknown>,
      };
      try {
        encodeReceipt({ v: 1, ...input, time: new Date().toISOString() });
      } catch (err) {
        throw new CliError(EXIT.USAGE, `${file}:${n + 1}: ${(err as Error).message}`);
      }
      inputs.push(x.parents?.length ? { ...input, parents: x.parents as number[] } : input);
      check.update(n + 1, lines.length);
    });
    check.done();
    const node = await openNode(dataDir(o), keyOptions());
    try {
      // Parents must already be in the log, so a bad reference is refused before anything is written.
      const size = await node.storage.size();
      inputs.forEach((input, n) => {
        const bad = input.parents?.find((p) => typeof p === 'number' && p >= size);
        if (bad !== undefined)
          throw new CliError(
            EXIT.USAGE,
            `${file}:${n + 1}: parent ${String(bad)} is not in the log (size ${size})`,
          );
      });
      const bar = createProgress('import', { quiet: o.json });
      let done = 0;
      const chunk = 5000;
      let first = -1;
      let last = -1;
      for (let k = 0; k < inputs.length;) {
        // Lines with parents resolve them asynchronously, so they are appended one at a time to keep
        // file order; runs of lines without parents are appended concurrently (group commit).
        const slice: AppendInput[] = [];
        while (k < inputs.length && slice.length < chunk) {
          const input = inputs[k]!;
          if (input.parents?.length && slice.length > 0) break;
          slice.push(input);
          k++;
          if (input.parents?.length) break;
        }
        const rs = await Promise.all(slice.map((i) => node.log.append(i)));
        for (const r of rs) {
          if (first < 0) first = r.index;
          last = Math.max(last, r.index);
        }
        done += rs.length;
        bar.update(done, inputs.length);
      }
      bar.done();
      if (o.json) printJson({ imported: done, firstIndex: first, lastIndex: last, size: node.log.size });
      else print(`imported ${done} receipts${done ? ` (first #${first}, last #${last})` : ''}`);
    } finally {
      await node.close();
    }
  });
}
