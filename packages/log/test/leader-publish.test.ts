// Several processes of one log: only the one allowed to (the leader) signs checkpoints; another answers its
// waiters with the leader's checkpoints, found in storage on its tick.
import { expect, it } from 'vitest';
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { createMemoryStorage, Log } from '../src/index.ts';

const receipt = (i: number) => ({
  kind: 'decision',
  actor: 'test',
  tenant: 'default',
  body: { title: `d${i}`, status: 'accepted' },
});

it('a follower never signs; its waiters get the leader checkpoint, and it signs once it may', async () => {
  const storage = createMemoryStorage();
  const key = generateNodeKey('leader.test/log');
  let followerMay = false;
  const common = { storage, origin: 'leader.test/log', signer: key.signer, hasher: nodeHasher };
  const leader = await Log.open({ ...common });
  const follower = await Log.open({ ...common, checkpointIntervalMs: 20, mayPublish: () => followerMay });
  const a = await follower.append(receipt(1));
  // Asking the follower to publish does not make it sign: nothing is stored, and an explicit request says why.
  await expect(follower.checkpoint()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(await storage.getCheckpoint()).toBeUndefined();
  const waiting = follower.waitForCheckpoint(a.index, { publish: true, timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  expect(await storage.getCheckpoint()).toBeUndefined();
  const signed = await leader.checkpoint();
  const got = await waiting;
  expect(got.checkpoint.size).toBe(signed.size);
  expect(got.checkpoint.note).toBe(signed.note);
  // Once it may (it became the leader), it signs the next checkpoint itself.
  await follower.append(receipt(2));
  followerMay = true;
  const own = await follower.checkpoint();
  expect(own.size).toBe(2);
  await follower.close();
  await leader.close();
});
