// Service names: a name becomes a directory, an npm package, a container image, Kubernetes object names and label
// values, Prometheus label values and a NATS/RabbitMQ/Redis queue name, so it must be valid in all of them: a
// DNS-1035 label (lower-case letters, digits and '-', starting with a letter, not ending with '-'), short enough that
// "<name>-<suffix>" objects still fit Kubernetes' 63-character limit.
import { SpawnError } from './errors.ts';

export const MAX_NAME_LENGTH = 40;
const LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Names npm or the generated project reserve. */
const RESERVED = new Set(['node_modules', 'favicon.ico', 'test', 'src', 'dist', 'vaultmesh']);

/** Refuses a name that cannot serve as all of the above; returns it unchanged. */
export function checkServiceName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new SpawnError('INVALID_NAME', 'a service name is required');
  if (name.length > MAX_NAME_LENGTH)
    throw new SpawnError(
      'INVALID_NAME',
      `service name "${name.slice(0, 60)}" is ${name.length} characters; at most ${MAX_NAME_LENGTH}`,
    );
  if (!LABEL.test(name))
    throw new SpawnError(
      'INVALID_NAME',
      `service name "${name}" must be lower-case letters, digits and '-', start with a letter and not end with '-' (a DNS-1035 label)`,
    );
  if (name.includes('--'))
    throw new SpawnError('INVALID_NAME', `service name "${name}" must not contain "--"`);
  if (RESERVED.has(name)) throw new SpawnError('INVALID_NAME', `service name "${name}" is reserved`);
  return name;
}

/** "payment-service" → "PaymentService". */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

/** "payment-service" → "payment_service" (Prometheus metric prefixes, SQL identifiers). */
export function snakeCase(name: string): string {
  return name.replaceAll('-', '_');
}
