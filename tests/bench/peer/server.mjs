// The Node.js peer of tests/bench/peer.sh (issue 18, target 2): GET /v1/sites/:siteId as forumnet answers it,
// written the way a Fastify 5 service usually is. Per request, like forumnet's: the bearer token verified
// (HS256 pinned, iss, aud, exp, nbf; fast-jwt with its cache on), the token's subject checked in the database
// (active, no credential change after iat_ms: forumnet's statement), then the site read with forumnet's
// statement; 401 / 404 / 200 with ETag. pg's named queries are prepared once per connection, as forumnet's are,
// and the pool has as many connections as forumnet's (POOL_SIZE).
//
//   PEER_PORT=18090 DATABASE_URL=postgresql:///forumnet?host=... JWT_SECRET=... POOL_SIZE=8 node server.mjs
import Fastify from 'fastify';
import { createVerifier } from 'fast-jwt';
import pg from 'pg';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`peer: ${name} is required`);
    process.exit(2);
  }
  return value;
};

const pool = new pg.Pool({
  connectionString: env('DATABASE_URL'),
  max: Number(env('POOL_SIZE', '8')),
});

const verify = createVerifier({
  key: env('JWT_SECRET'),
  algorithms: ['HS256'],
  allowedIss: env('JWT_ISSUER', 'forumnet'),
  allowedAud: env('JWT_AUDIENCE', 'forumnet-api'),
  cache: true,
});

// The same text as src/resources/auth_db.c (auth_member_subject) and src/resources/sites_db.c (sites_get).
const subjectQuery = {
  name: 'peer_member_subject',
  text:
    "SELECT status = 'active' AND $2::bigint >= floor(extract(epoch FROM credentials_changed_at) * 1000)::bigint," +
    ' must_change_password FROM members WHERE id = $1',
};
const siteQuery = {
  name: 'peer_sites_get',
  text:
    "SELECT s.id IS NOT NULL, json_build_object('id', s.id, 'slug', s.slug, 'name', s.name," +
    " 'organisation', s.organisation, 'region', s.region, 'timezone', s.timezone," +
    " 'archived_at', rfc3339(s.archived_at), 'version', s.version, 'created_at', rfc3339(s.created_at))::text," +
    " s.version FROM members c LEFT JOIN sites s ON s.id = $2 WHERE c.id = $1 AND c.status = 'active'",
  rowMode: 'array',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const problem = (reply, status, detail) =>
  reply.code(status).type('application/problem+json').send({ status, detail });

const app = Fastify({ logger: false });

app.get('/v1/sites/:siteId', async (request, reply) => {
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) return problem(reply, 401, 'A bearer access token is required.');
  let claims;
  try {
    claims = verify(header.slice(7));
  } catch {
    return problem(reply, 401, 'The access token is invalid or expired.');
  }
  if (claims.typ !== 'access' || !UUID.test(claims.sub ?? '')) return problem(reply, 401, 'Invalid token.');
  const { siteId } = request.params;
  if (!UUID.test(siteId)) return problem(reply, 404, 'No such site.');
  const iatMs = String(claims.iat_ms ?? claims.iat * 1000);
  const subject = await pool.query({ ...subjectQuery, values: [claims.sub, iatMs], rowMode: 'array' });
  if (subject.rows.length === 0 || !subject.rows[0][0]) return problem(reply, 401, 'Invalid token.');
  const site = await pool.query({ ...siteQuery, values: [claims.sub, siteId] });
  if (site.rows.length === 0) return problem(reply, 401, 'Invalid token.');
  const [found, json, version] = site.rows[0];
  if (!found) return problem(reply, 404, 'No such site.');
  return reply.header('ETag', `"${version}"`).type('application/json; charset=utf-8').send(json);
});

app.get('/readyz', async () => ({ status: 'ready' }));

const port = Number(env('PEER_PORT'));
await app.listen({ host: '127.0.0.1', port });
console.log(`peer: listening on http://127.0.0.1:${port}`);
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
