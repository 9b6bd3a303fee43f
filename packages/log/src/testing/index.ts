// @vaultmesh/log/testing: the contract suites (vitest) every LogStorage driver runs: the storage port's semantics,
// and the Log's behaviour over the driver.
export { storageContract, type DriverFactory } from './storage-contract.ts';
export { logContract, type LogContractCrypto } from './log-contract.ts';
