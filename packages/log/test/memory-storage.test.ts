import { createMemoryStorage } from '../src/index.ts';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { logContract, storageContract } from '../src/testing/index.ts';

const crypto = { newKey: generateNodeKey, hasher: nodeHasher, ed25519Verify: nodeEd25519Verify };
logContract('memory', async () => createMemoryStorage(), crypto);
storageContract('memory', { create: async () => createMemoryStorage() });
