// A webhook receiver on loopback for tests/e2e/e2e_webhooks.c (and tests/bench/webhooks.sh). Every request
// is verified with the reference `standardwebhooks` package (pinned in tools/package.json), never our own
// HMAC code. Usage: node webhook_receiver.mjs <port file> <tools dir>
//
// Paths it answers (the path after the first segment is free, to tell endpoints apart):
//   /ok/...     200
//   /flaky/...  500, 500, then 200 for each webhook-id
//   /gone/...   410
//   /fail/...   500, always
//   /slow/...   never answers (the sender's timeout)
// Control (JSON): POST /_secrets {"prefix": "/ok/a", "secrets": ["whsec_..", ..]} sets the secrets tried for
// paths starting with prefix; GET /_log answers every request received so far:
//   {path, id, timestamp, signature, body, answered, verified: [index of each secret that verifies]}
import { createServer } from 'node:http';
import { writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [portFile, toolsDir] = process.argv.slice(2);
const require = createRequire(path.join(toolsDir, 'package.json'));
const { Webhook } = require('standardwebhooks');

const secrets = new Map(); // prefix -> [secret]
const log = [];
const seen = new Map(); // webhook-id -> attempts (for /flaky)

function secretsFor(url) {
  let best = null;
  for (const [prefix, list] of secrets) if (url.startsWith(prefix) && (!best || prefix.length > best[0].length)) best = [prefix, list];
  return best ? best[1] : [];
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/_log') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(log));
      return;
    }
    if (req.url === '/_secrets') {
      const { prefix, secrets: list } = JSON.parse(body);
      secrets.set(prefix, list);
      res.writeHead(204).end();
      return;
    }
    const headers = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    const verified = [];
    secretsFor(req.url).forEach((secret, i) => {
      try {
        new Webhook(secret).verify(body, headers);
        verified.push(i);
      } catch {
        /* not signed with this one */
      }
    });
    const id = headers['webhook-id'];
    let answered = 200;
    if (req.url.startsWith('/flaky/')) {
      const n = (seen.get(id) || 0) + 1;
      seen.set(id, n);
      answered = n <= 2 ? 500 : 200;
    } else if (req.url.startsWith('/gone/')) answered = 410;
    else if (req.url.startsWith('/fail/')) answered = 500;
    const entry = {
      path: req.url, id, timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'],
      content_type: req.headers['content-type'], body, answered, verified,
    };
    log.push(entry);
    if (req.url.startsWith('/slow/')) {
      entry.answered = 0;
      return; // never answers
    }
    res.writeHead(answered, { 'content-type': 'text/plain' });
    res.end(answered === 200 ? 'ok' : 'no');
  });
});

server.listen(0, '127.0.0.1', () => {
  const tmp = `${portFile}.tmp`;
  writeFileSync(tmp, String(server.address().port));
  renameSync(tmp, portFile);
});
process.on('SIGTERM', () => process.exit(0));
