// Graceful shutdown: on SIGTERM or SIGINT stop taking work and drain what is in flight, then exit 0 (1 when the
// drain did not finish or failed). If draining takes longer than `graceMs`, or a second signal comes, exit at once.

export interface ShutdownLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function onShutdown(opts: {
  graceMs: number;
  log: ShutdownLog;
  /** Stops taking work and resolves when what was in flight is done: true when all of it finished. */
  drain: () => Promise<boolean>;
}): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      opts.log.error({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    opts.log.info({ signal }, 'shutting down: draining work in flight');
    const force = setTimeout(() => {
      opts.log.error({ graceMs: opts.graceMs }, 'work in flight did not finish in time: exiting');
      process.exit(1);
    }, opts.graceMs);
    force.unref();
    opts.drain().then(
      (drained) => process.exit(drained ? 0 : 1),
      (err: unknown) => {
        opts.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
