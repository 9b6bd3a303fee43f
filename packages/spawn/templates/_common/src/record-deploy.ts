// npm run record-deploy -- --version 1.4.0 --environment production [--status released] [--image REF] [--commit SHA]
// Records a deploy receipt for this service on the VaultMesh node in VM_URL (token in VM_TOKEN).
import { parseArgs } from 'node:util';
import { recordDeploy, VaultMeshClientError } from './vaultmesh.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      environment: { type: 'string' },
      status: { type: 'string' },
      image: { type: 'string' },
      commit: { type: 'string' },
    },
  });
  if (!values.version || !values.environment) {
    console.error(
      'usage: record-deploy --version V --environment E [--status S] [--image REF] [--commit SHA]',
    );
    process.exit(2);
  }
  const receipt = await recordDeploy({
    version: values.version,
    environment: values.environment,
    ...(values.status ? { status: values.status } : {}),
    ...(values.image ? { image: values.image } : {}),
    ...(values.commit ? { commit: values.commit } : {}),
  });
  console.log(JSON.stringify(receipt));
}

main().catch((err: unknown) => {
  console.error(err instanceof VaultMeshClientError ? err.message : err);
  process.exit(1);
});
