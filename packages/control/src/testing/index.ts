// @vaultmesh/control/testing: what other packages' tests use to hold their adapters to the control plane's
// contracts: the ControlStore contract suite (vitest), a fake Kubernetes API server and a local HTTP(S) server.
export { controlStoreContract } from './store-contract.ts';
export { startFakeK8s, type FakeK8sRequest } from './fake-k8s.ts';
export { localServer } from './local-server.ts';
