#!/usr/bin/env node
// A small local service for the canary example: GET /healthz, GET /api and GET /metrics (Prometheus text).
// Usage: node service.mjs --port 8081 --version v2 [--error-rate 0.5]
// A version named "broken" fails its health check and every request (an injected fault). SIGTERM stops it cleanly.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    version: { type: 'string', default: 'v1' },
    'error-rate': { type: 'string', default: '0' },
  },
});
const port = Number(values.port);
const errorRate = Number(values['error-rate']);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('service: --port must be a TCP port');
  process.exit(2);
}
if (!(errorRate >= 0 && errorRate <= 1)) {
  console.error('service: --error-rate must be between 0 and 1');
  process.exit(2);
}
const broken = values.version === 'broken';
let requests = 0;
let errors = 0;

const server = createServer((req, res) => {
  const send = (code, body, type = 'application/json') => {
    res.writeHead(code, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (req.url === '/healthz') return send(broken ? 500 : 200, { version: values.version, ok: !broken });
  if (req.url === '/metrics')
    return send(
      200,
      [
        '# TYPE demo_requests_total counter',
        `demo_requests_total{version="${values.version}"} ${requests}`,
        '# TYPE demo_errors_total counter',
        `demo_errors_total{version="${values.version}"} ${errors}`,
        '',
      ].join('\n'),
      'text/plain; version=0.0.4',
    );
  if (req.url === '/api') {
    requests++;
    const fail = broken || Math.random() < errorRate;
    if (fail) errors++;
    return send(fail ? 500 : 200, { version: values.version, ok: !fail });
  }
  send(404, { error: 'not found' });
});
server.listen(port, '127.0.0.1', () => console.log(`service ${values.version} on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
