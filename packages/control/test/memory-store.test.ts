import { createMemoryControlStore } from '../src/index.ts';
import { controlStoreContract } from './store-contract.ts';

controlStoreContract('memory', async () => createMemoryControlStore());
