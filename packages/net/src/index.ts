// @vaultmesh/net: reading what remote parties send, within limits, and scrubbed of what we sent them.
export {
  BodyTooLargeError,
  boundedFetch,
  readBounded,
  readBoundedJson,
  readBoundedText,
  REDACTED,
  scrubBytes,
  scrubText,
  type BoundedBytes,
  type BoundedFetchOptions,
  type ReadLimit,
} from './bounded-body.ts';
export { CREDENTIAL_HEADER, requestSecrets } from './credentials.ts';
