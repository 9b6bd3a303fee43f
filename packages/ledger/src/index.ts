// @vaultmesh/ledger: the pure core (no I/O). Merkle math, proofs, receipts, checkpoints, signed notes, tiles.
export { LedgerError, type LedgerErrorCode } from './errors.ts';
export {
  allocBytes,
  bytesEqual,
  concatBytes,
  fromBase64,
  fromHex,
  fromUtf8,
  toBase64,
  toHex,
  utf8,
  utf8WithPrefix,
} from './bytes.ts';
export {
  createMerkleHasher,
  defaultHasher,
  HASH_SIZE,
  type MerkleHasher,
  type Sha256,
  type Sha256Into,
} from './hash.ts';
export {
  consistencyProofPlan,
  foldNodes,
  inclusionProofPlan,
  largestPowerOfTwoBelow,
  rangeNodes,
  resolvePlan,
  rootFromInclusionProof,
  rootPlan,
  TreeBuilder,
  verifyConsistency,
  verifyInclusion,
  type CompletedNode,
  type NodeId,
  type ProofElementPlan,
} from './merkle.ts';
export { canonicalBytes, canonicalize, quote, serialize } from './jcs.ts';
export { parseStrictJson } from './strict-json.ts';
export {
  BODY_SCHEMAS,
  canonicalReceipt,
  createReceiptLeaf,
  decodeReceipt,
  encodeReceipt,
  ENVELOPE_SCHEMA,
  envelopeMismatch,
  isPublicReceiptKind,
  MAX_RECEIPT_BYTES,
  PUBLIC_RECEIPT_KINDS,
  RECEIPT_KINDS,
  RECEIPT_VERSION,
  receiptTime,
  validateReceipt,
  type ParentRef,
  type Receipt,
  type ReceiptKind,
  type ReceiptLeaf,
} from './receipt.ts';
export {
  ED25519_ALG,
  ed25519KeyHash,
  formatSignatureLine,
  formatVerifierKey,
  nobleEd25519Verify,
  noteFromBytes,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
  type Ed25519Verify,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifierKey,
  type OpenedNote,
} from './note.ts';
export {
  addCosignatures,
  COSIGNATURE_ALG,
  cosignatureKeyId,
  cosignatureMessage,
  cosignerVerifierKey,
  noteSignatureLines,
  parseCosignatureLine,
  parseCosignerKey,
  signCosignature,
  verifyCosignature,
  verifyCosignedNote,
  type CosignatureLine,
  type CosignerKey,
  type VerifyCosignatureOptions,
} from './cosignature.ts';
export {
  KEY_ROTATION_STATEMENT,
  keyRotationBody,
  keyRotationStatement,
  verifyKeyRotation,
  type KeyRotation,
  type KeyRotationBody,
  type VerifiedKeyRotation,
} from './key-rotation.ts';
export { formatCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
export { formatTilePath, parseTilePath, TILE_HEIGHT, TILE_WIDTH, type TileAddress } from './tiles.ts';
