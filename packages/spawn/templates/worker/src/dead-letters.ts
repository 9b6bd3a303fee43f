// npm run dead-letters [-- MAX]: prints the oldest dead letters (JSON lines), leaving them in place.
import { connectBroker } from './brokers/{{queue}}.js';
import { loadConfig } from './config.js';

async function main(): Promise<void> {
  const max = Number(process.argv[2] ?? 20);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) {
    console.error('usage: dead-letters [MAX] (1 to 10000, default 20)');
    process.exit(2);
  }
  const config = loadConfig();
  const broker = await connectBroker(config.queueUrl, config.queue);
  try {
    for (const d of await broker.deadLetters(max)) console.log(JSON.stringify(d));
  } finally {
    await broker.close();
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
