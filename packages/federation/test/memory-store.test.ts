import { createMemoryFederationStore } from '../src/index.ts';
import { federationStoreContract } from '../src/testing/index.ts';

federationStoreContract('memory', async () => createMemoryFederationStore());
