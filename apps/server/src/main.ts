// The VaultMesh node as a process, configured by the environment only (VM_CONFIG, VM_DATA_DIR, VM_HOST, VM_PORT,
// VM_LOG_LEVEL, VM_KEY_PASSPHRASE_FILE ...; see docs/operations.md): load the configuration, start, listen, and stop
// cleanly on SIGINT or SIGTERM. What a container or a service manager runs; `vm up` is the same node with flags.
import { loadConfig, readKeyPassphrase, startNode, stopOnSignal } from '@vaultmesh/node';

/** Runs a node until a signal stops it; resolves with its exit code: 0, 2 for a bad configuration, 1 when it cannot start. */
export async function main(
  env: NodeJS.ProcessEnv,
  say: (line: string) => void = console.log,
): Promise<number> {
  let config;
  try {
    config = loadConfig({ env });
  } catch (err) {
    say(`vaultmesh-server: ${(err as Error).message}`);
    return 2;
  }
  let running;
  try {
    running = await startNode(config, { passphrase: readKeyPassphrase(env), env });
  } catch (err) {
    say(`vaultmesh-server: cannot start: ${(err as Error).message}`);
    return 1;
  }
  say(`VaultMesh node listening on ${running.url} (data ${config.dataDir}, origin ${running.node.origin})`);
  await stopOnSignal(running, say);
  return 0;
}
