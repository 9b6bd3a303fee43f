// Key rotation on a data directory: crash-safe (an interrupted rotation is finished, not repeated), and a
// node left running with the old key refuses to sign.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatNodeKeyFile, generateNodeKey, writeFileAtomic } from '@vaultmesh/attest';
import { keyRotationBody, keyRotationStatement } from '@vaultmesh/ledger';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dataPaths,
  initNode,
  nodeKeyStatus,
  openNode,
  rotateNodeKey,
  sealNodeKeyFile,
  verifyNode,
} from '../src/index.ts';

const ORIGIN = 'node-keys.test/log';
const PASSPHRASE = 'node keys test passphrase';
const FAST = { N: 2 ** 10 };
const work = mkdtempSync(join(tmpdir(), 'vm-node-keys-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

async function freshNode(): Promise<string> {
  const dir = join(work, `node-${n++}`);
  await initNode(dir, { origin: ORIGIN });
  const node = await openNode(dir);
  await node.log.append({ kind: 'decision', actor: 'test', tenant: 'default', body: { title: 'first' } });
  await node.log.checkpoint();
  await node.close();
  return dir;
}

describe('node key rotation on a data directory', () => {
  it('finishes a rotation that was interrupted after its receipt was recorded, instead of starting another', async () => {
    const dir = await freshNode();
    const p = dataPaths(dir);
    // The state a crash leaves after the receipt and the meta switch, before the key files were swapped.
    const node = await openNode(dir);
    const old = node.key;
    const next = generateNodeKey(ORIGIN);
    writeFileAtomic(`${p.key}.next`, formatNodeKeyFile(next));
    const before = await node.log.checkpoint();
    const r = {
      origin: ORIGIN,
      previousVerifierKey: old.verifierKeyText,
      verifierKey: next.verifierKeyText,
      treeSize: before.size,
    };
    const msg = keyRotationStatement(r);
    const body = keyRotationBody(r, { previous: old.signer.sign(msg), next: next.signer.sign(msg) });
    const { index } = await node.log.append({ kind: 'key', actor: 'test', tenant: 'system', body });
    await node.storage.setMeta('verifier_key', next.verifierKeyText);
    await node.close();
    await expect(openNode(dir)).rejects.toThrow(/if "vm key rotate" was interrupted, run it again to finish/);
    expect((await nodeKeyStatus(dir)).rotationPending).toBe(true);

    const res = await rotateNodeKey(dir, { actor: 'test' });
    expect(res).toMatchObject({
      resumed: true,
      index,
      previousVerifierKey: old.verifierKeyText,
      verifierKey: next.verifierKeyText,
    });
    expect(res.checkpoint.size).toBe(index + 1);
    expect(existsSync(`${p.key}.next`)).toBe(false);
    expect(readFileSync(p.pub, 'utf8').trim()).toBe(next.verifierKeyText);
    const status = await nodeKeyStatus(dir);
    expect(status).toMatchObject({ rotationPending: false, verifierKey: next.verifierKeyText });
    expect(status.history).toEqual([
      { verifierKey: old.verifierKeyText, fromSize: 0 },
      { verifierKey: next.verifierKeyText, fromSize: index + 1 },
    ]);
    const report = await verifyNode(dir, { full: true });
    expect(report.problems).toEqual([]);
  });

  it('drops a staged key that no receipt records and rotates afresh; a sealed key stays sealed', async () => {
    const dir = await freshNode();
    const p = dataPaths(dir);
    await sealNodeKeyFile(dir, PASSPHRASE, { actor: 'test', scrypt: FAST });
    const stray = generateNodeKey(ORIGIN);
    writeFileSync(`${p.key}.next`, formatNodeKeyFile(stray), { mode: 0o600 });
    await expect(rotateNodeKey(dir, { actor: 'test' })).rejects.toMatchObject({ code: 'KEY_PASSPHRASE' });
    const res = await rotateNodeKey(dir, { actor: 'test', passphrase: PASSPHRASE, scrypt: FAST });
    expect(res).toMatchObject({ resumed: false, sealed: true });
    expect(res.verifierKey).not.toBe(stray.verifierKeyText);
    expect(existsSync(`${p.key}.next`)).toBe(false);
    const reopened = await openNode(dir, { passphrase: PASSPHRASE });
    expect(reopened.keySealed).toBe(true);
    await reopened.close();
    expect((await verifyNode(dir)).problems).toEqual([]);
  });

  it('a node still running with the old key refuses to sign after a rotation, so the log keeps verifying', async () => {
    const dir = await freshNode();
    const running = await openNode(dir);
    await rotateNodeKey(dir, { actor: 'test' });
    await running.log.append({ kind: 'decision', actor: 'test', tenant: 'default', body: { title: 'late' } });
    await expect(running.log.checkpoint()).rejects.toThrow(
      /the node key was rotated on disk; restart the node/,
    );
    await running.close();
    const restarted = await openNode(dir);
    await restarted.log.checkpoint();
    await restarted.close();
    expect((await verifyNode(dir, { full: true })).problems).toEqual([]);
  });
});
