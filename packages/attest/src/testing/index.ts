// @vaultmesh/attest/testing: a real RFC 3161 time-stamp authority for tests and benchmarks (test CA material made with
// the openssl CLI, replies from `openssl ts -reply`, fail modes for outages and bad answers), hand-built tokens for
// the cases openssl will not produce, and the token parser those checks read back with.
export {
  createTestPki,
  issueTestCert,
  removeTestPkis,
  runOpenssl,
  startTestTsa,
  TEST_TSA_POLICY,
  TSA_CERT_EXTENSIONS,
  type TestKeyType,
  type TestPki,
  type TestPkiOptions,
  type TestTsa,
  type TestTsaOptions,
  type TsaFailMode,
} from './tsa.ts';
export { buildTestToken, type TestTokenOptions } from './tsa-token.ts';
export { parseToken } from '../timestamp-token.ts';
