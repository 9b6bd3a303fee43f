// vm evidence: release evidence (checksums.txt and a DSSE-signed in-toto statement), built and verified locally.
// One `evidence` command; each subcommand is registered by its own function below.
import type { Command } from 'commander';
import {
  buildReleaseEvidence,
  dsseVerifierFromNoteKey,
  loadReleaseManifest,
  loadVerifierKey,
  verifyReleaseEvidence,
  type HashProgress,
  type ReleaseVerifyReport,
} from '@vaultmesh/attest';
import { writeFileSync } from 'node:fs';
import { dataPaths, exportEvidence, loadTsaTrust, logKeyTexts, openNode } from '@vaultmesh/node';
import { anchorConfigFrom, withTsaFlags, type TsaFlags } from './anchor.ts';
import { dataDir, keyOptions, localActor, parseIndex, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { createProgress, print, printJson } from '../output.ts';

/** Hashing sets at least this large get a progress bar (smaller ones finish before it would matter). */
const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;

export function register(program: Command): void {
  const evidence = program
    .command('evidence')
    .description(
      'evidence: offline bundles of receipts (export), and release evidence (checksums.txt and a DSSE-signed in-toto statement)',
    );
  registerBuild(evidence);
  registerVerify(evidence);
  registerExport(evidence);
}

function registerExport(evidence: Command): void {
  withTsaFlags(
    withData(
      evidence
        .command('export <index>')
        .description(
          'write the offline evidence bundle of one receipt: receipt, inclusion proof, signed checkpoint, RFC 3161 tokens, keys (check it with vm verify)',
        )
        .option('-o, --out <file>', 'write the bundle here instead of stdout'),
    ),
  ).action(async (indexText: string, o: TsaFlags & { data?: string; out?: string }) => {
    const index = parseIndex(indexText);
    const trust = loadTsaTrust(anchorConfigFrom(o).tsas);
    const node = await openNode(dataDir(o), keyOptions());
    try {
      const bundle = await exportEvidence(node.log, node.storage, index, {
        logKeys: await logKeyTexts(node.storage, node.key.verifierKeyText),
        trust,
      });
      const text = JSON.stringify(bundle, null, 2) + '\n';
      if (o.out) {
        writeFileSync(o.out, text);
        print(
          `bundle of receipt ${index} (checkpoint ${bundle.checkpoint.size}, ${bundle.timestamps.length} timestamp(s)) written to ${o.out}`,
        );
      } else process.stdout.write(text);
    } finally {
      await node.close();
    }
  });
}

/** A progress callback that shows a bar on stderr once the set turns out to be large (never with --json). */
function hashingProgress(quiet: boolean | undefined) {
  let bar: ReturnType<typeof createProgress> | undefined;
  return {
    onProgress(p: HashProgress): void {
      if (quiet || p.bytesTotal < PROGRESS_MIN_BYTES) return;
      bar ??= createProgress(`hashing ${p.filesTotal} artifact(s), bytes`);
      bar.update(p.bytesDone, p.bytesTotal);
    },
    done(): void {
      bar?.done();
    },
  };
}

function formatBytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function registerBuild(evidence: Command): void {
  withData(
    evidence
      .command('build')
      .description(
        'hash the artifacts of a release manifest, write checksums.txt and a signed release.dsse.json, and record an evidence receipt',
      )
      .requiredOption(
        '-m, --manifest <file>',
        'release manifest: {"name", "version", "artifacts": [{"path"}]}',
      )
      .option('-o, --out <dir>', "where to write the evidence files (default: the manifest's directory)")
      .option('-t, --tenant <tenant>', 'tenant of the evidence receipt', 'default')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { manifest: string; out?: string; tenant: string; data?: string; json?: boolean }) => {
    // The manifest is checked before the node is opened, so a bad one fails fast (exit 2 or 3).
    const manifest = loadReleaseManifest(o.manifest);
    const node = await openNode(dataDir(o), keyOptions());
    const progress = hashingProgress(o.json);
    try {
      const ev = await buildReleaseEvidence({
        manifestPath: o.manifest,
        manifest,
        outDir: o.out,
        signer: node.key,
        onProgress: progress.onProgress,
      }).finally(() => progress.done());
      const subject = `${manifest.name}@${manifest.version}`;
      const r = await node.log.append({
        kind: 'evidence',
        actor: localActor(),
        tenant: o.tenant,
        body: {
          subject,
          digests: Object.fromEntries(ev.artifacts.map((a) => [a.path, a.sha256])),
          envelopeSha256: ev.envelopeSha256,
        },
      });
      if (o.json) {
        return printJson({
          subject,
          artifacts: ev.artifacts,
          checksums: ev.checksumsPath,
          envelope: ev.envelopePath,
          envelopeSha256: ev.envelopeSha256,
          keyid: ev.keyid,
          builtAt: ev.statement.predicate.builtAt,
          receipt: { index: r.index, leafHash: r.leafHash },
        });
      }
      const bytes = ev.artifacts.reduce((n, a) => n + a.size, 0);
      print(`hashed ${ev.artifacts.length} artifact(s) of ${subject} (${formatBytes(bytes)})`);
      print(`wrote ${ev.checksumsPath}`);
      print(`wrote ${ev.envelopePath} (sha256 ${ev.envelopeSha256}, signed by ${ev.keyid})`);
      print(`recorded evidence #${r.index} (leaf ${r.leafHash})`);
    } finally {
      await node.close();
    }
  });
}

function printReport(r: ReleaseVerifyReport): void {
  for (const f of r.files) print(f.ok ? `OK    ${f.path}  ${f.sha256}` : `FAIL  ${f.path}: ${f.problem}`);
  print(
    r.signature.ok
      ? `signature: verified by ${r.signature.keyids.join(', ')}, built at ${r.signature.builtAt}`
      : `signature: FAILED: ${r.signature.problem}`,
  );
  if (r.ok) {
    print(
      `OK: ${r.name}@${r.version}, ${r.files.length} artifact(s) match the signed statement and checksums.txt`,
    );
    return;
  }
  print(`FAILED: ${r.name}@${r.version}, ${r.problems.length} problem(s):`);
  for (const p of r.problems) print(`  ${p}`);
}

function registerVerify(evidence: Command): void {
  withData(
    evidence
      .command('verify')
      .description(
        're-hash the artifacts of a release manifest and check them against checksums.txt and the signed release.dsse.json',
      )
      .requiredOption('-m, --manifest <file>', 'release manifest')
      .option('--pubkey <file>', 'trusted C2SP verifier key file (default: <data>/keys/node.key.pub)')
      .option('--dir <dir>', "where the evidence files are (default: the manifest's directory)")
      .option('--json', 'machine-readable report'),
  ).action(async (o: { manifest: string; pubkey?: string; dir?: string; data?: string; json?: boolean }) => {
    const manifest = loadReleaseManifest(o.manifest);
    const trusted = loadVerifierKey(o.pubkey ?? dataPaths(dataDir(o)).pub);
    const progress = hashingProgress(o.json);
    const report = await verifyReleaseEvidence({
      manifestPath: o.manifest,
      manifest,
      evidenceDir: o.dir,
      trusted: [dsseVerifierFromNoteKey(trusted.key)],
      onProgress: progress.onProgress,
    }).finally(() => progress.done());
    if (o.json) printJson(report);
    else printReport(report);
    if (!report.ok)
      throw new CliError(
        EXIT.FAILED,
        `release evidence does not verify (${report.problems.length} problem(s)); first: ${report.problems[0]}`,
      );
  });
}
