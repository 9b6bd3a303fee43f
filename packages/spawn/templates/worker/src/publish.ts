// npm run publish-job -- '{"id":"1","task":"resize"}': puts one job on the queue (QUEUE_URL, QUEUE_NAME).
import { connectBroker } from './brokers/{{queue}}.js';
import { loadConfig } from './config.js';

async function main(): Promise<void> {
  const body = process.argv[2];
  if (!body) {
    console.error('usage: publish-job JSON');
    process.exit(2);
  }
  const config = loadConfig();
  const broker = await connectBroker(config.queueUrl, config.queue);
  try {
    await broker.publish(body);
    console.log(JSON.stringify({ published: `${config.queue}.jobs` }));
  } finally {
    await broker.close();
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
