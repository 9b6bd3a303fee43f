import { createMemoryControlStore } from '../src/index.ts';
import { controlStoreContract } from '../src/testing/index.ts';

controlStoreContract('memory', async () => createMemoryControlStore());
