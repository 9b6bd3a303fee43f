// vm key: the node key at rest (status, seal, unseal) and key rotation with a chain that verification follows.
import type { Command } from 'commander';
import { nodeKeyStatus, rotateNodeKey, sealNodeKeyFile, unsealNodeKeyFile } from '@vaultmesh/node';
import { dataDir, keyOptions, localActor, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

interface KeyOpts {
  data?: string;
  passphraseFile?: string;
  json?: boolean;
}

const PASSPHRASE_FILE = [
  '--passphrase-file <file>',
  'read the passphrase from this file (default: env VM_KEY_PASSPHRASE_FILE, then VM_KEY_PASSPHRASE)',
] as const;

/** The passphrase from --passphrase-file or the environment; a passphrase is never a plain argument. */
function requirePassphrase(o: KeyOpts, what: string): string {
  const { passphrase } = keyOptions(o.passphraseFile);
  if (passphrase === undefined)
    throw new CliError(
      EXIT.USAGE,
      `${what} needs a passphrase: --passphrase-file <file>, VM_KEY_PASSPHRASE_FILE or VM_KEY_PASSPHRASE`,
    );
  return passphrase;
}

export function register(program: Command): void {
  const key = program
    .command('key')
    .description('the node key: status, seal/unseal at rest with a passphrase, rotate (stop the node first)');

  withData(
    key
      .command('status')
      .description('show whether the node key is sealed, its verifier key, key history and retired keys')
      .option('--json', 'machine-readable output'),
  ).action(async (o: KeyOpts) => {
    const s = await nodeKeyStatus(dataDir(o));
    if (o.json) return printJson(s);
    print(`key file: ${s.keyFile} (${s.sealed ? 'sealed' : 'not sealed'}, mode ${s.mode})`);
    if (s.kdf) print(`  kdf:    ${s.kdf.name} N=${s.kdf.N} r=${s.kdf.r} p=${s.kdf.p}, aes-256-gcm`);
    print(`  origin: ${s.origin}`);
    print(`  key:    ${s.verifierKey}`);
    print(`  history (${s.history.length} key${s.history.length === 1 ? '' : 's'}):`);
    for (const h of s.history) print(`    from size ${String(h.fromSize).padEnd(8)} ${h.verifierKey}`);
    for (const r of s.retired) print(`  retired: ${r}`);
    if (s.rotationPending) print('  ! a key rotation did not finish: run "vm key rotate" again to finish it');
  });

  withData(
    key
      .command('seal')
      .description(
        'encrypt the node key file at rest with a passphrase (scrypt + AES-256-GCM; atomic rewrite, mode 0600)',
      )
      .option(...PASSPHRASE_FILE)
      .option('--json', 'machine-readable output'),
  ).action(async (o: KeyOpts) => {
    const res = await sealNodeKeyFile(dataDir(o), requirePassphrase(o, 'vm key seal'), {
      actor: localActor(),
    });
    if (o.json) return printJson({ sealed: true, ...res });
    print(`sealed the node key ${res.verifierKey}`);
    print(
      `  recorded key receipt ${res.index}; start the node with VM_KEY_PASSPHRASE or VM_KEY_PASSPHRASE_FILE`,
    );
  });

  withData(
    key
      .command('unseal')
      .description(
        'decrypt a sealed node key file back to a plain PKCS#8 PEM key (atomic rewrite, mode 0600)',
      )
      .option(...PASSPHRASE_FILE)
      .option('--json', 'machine-readable output'),
  ).action(async (o: KeyOpts) => {
    const res = await unsealNodeKeyFile(dataDir(o), requirePassphrase(o, 'vm key unseal'), {
      actor: localActor(),
    });
    if (o.json) return printJson({ sealed: false, ...res });
    print(`unsealed the node key ${res.verifierKey}`);
    print(`  recorded key receipt ${res.index}`);
  });

  withData(
    key
      .command('rotate')
      .description(
        'replace the node key by a new one for the same origin, recording a key receipt signed by both keys (offline: stop the node first)',
      )
      .option(...PASSPHRASE_FILE)
      .option('--json', 'machine-readable output'),
  ).action(async (o: KeyOpts) => {
    const res = await rotateNodeKey(dataDir(o), {
      actor: localActor(),
      passphrase: keyOptions(o.passphraseFile).passphrase,
    });
    if (o.json) return printJson(res);
    print(`${res.resumed ? 'finished an interrupted rotation' : 'rotated the node key'} of ${res.origin}`);
    print(`  previous key: ${res.previousVerifierKey}`);
    print(`  new key:      ${res.verifierKey}${res.sealed ? ' (sealed)' : ''}`);
    print(`  key receipt:  index ${res.index}; the new key signs checkpoints from size ${res.index + 1}`);
    print(`  checkpoint:   size ${res.checkpoint.size}, root ${res.checkpoint.root}`);
    print(`  retired key:  ${res.retiredKeyFile} (mode 0600)`);
    print('  pin the new key (keys/node.key.pub) wherever the old one was pinned');
  });
}
