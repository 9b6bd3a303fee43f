import { createMemoryStorage } from '../src/index.ts';
import { storageContract } from './storage-contract.ts';
import { logContract } from './log-contract.ts';

logContract('memory', async () => createMemoryStorage());
storageContract('memory', { create: async () => createMemoryStorage() });
