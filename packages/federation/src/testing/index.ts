// @vaultmesh/federation/testing: the FederationStore contract suite (vitest) every driver runs.
export { federationStoreContract } from './store-contract.ts';
