// @vaultmesh/spawn: generating services that are production-ready and governed from birth: the template catalog,
// rendering (checked parameters, same input → same bytes), the tree digest recorded in spawn receipts, writing
// without overwriting, and what `vm spawn verify` and `vm spawn update` need (comparison, three-way merge).
export { SpawnError } from './errors.ts';
export type { SpawnErrorCode, SpawnErrorEvidence } from './errors.ts';
export { checkServiceName, MAX_NAME_LENGTH } from './names.ts';
export {
  checkUpgrade,
  filesOfVersion,
  getTemplate,
  listTemplates,
  loadTemplate,
  TEMPLATES_DIR,
  versionIndex,
} from './catalog.ts';
export type { FileSpec, LoadedTemplate, Template, TemplateVersion } from './catalog.ts';
export { checkParams, render } from './generate.ts';
export type { Params, Rendered } from './generate.ts';
export { renderText } from './text.ts';
export { MANIFEST_FILE, SUMS_FILE, sha256, sumsText, treeDigest } from './tree.ts';
export type { Tree } from './tree.ts';
export { manifestOf, manifestText, metadataFiles, readManifest, spawnedTree } from './manifest.ts';
export type { ReceiptRef, SpawnManifest } from './manifest.ts';
export { checkTarget, stageTree, writeFiles } from './write.ts';
export type { Staged } from './write.ts';
export { compareTree, listTree, regenerate, UNTRACKED_DIRS } from './verify.ts';
export type { TreeChanges } from './verify.ts';
export { applyUpdate, hasConflictMarkers, mergeFile, planUpdate } from './update.ts';
export type { MergeAction, MergedFile, UpdatePlan } from './update.ts';
