// A real OpenID Provider on loopback for tests/e2e/e2e_oidc.c: panva's `oidc-provider` (OpenID
// Certified; pinned in tools/package.json), never a hand-written stub. Usage:
//   node oidc_provider.mjs <port> <tools dir> <client id> <client secret>
// Issuer http://127.0.0.1:<port>. Two confidential clients, both client_secret_basic, authorization_code
// with PKCE (S256, required), redirect_uris [http://127.0.0.1:9/cb]: <client id> (forumnet's) and
// "other-client" (secret "<client secret>-other"); and "hs-client" (secret "<client secret>-hs") whose ID tokens
// are signed HS256 with its secret (RFC 7518 section 3.2), by no key of the JWKS: a client must refuse them.
// Interactions: the package's built-in development ones (a login form accepting any login and password,
// then a consent form). The account is the login: sub = email = the login name, email_verified true, except
// for a login starting with "unverified+" (email_verified false; the email is what follows the "+").
// ID tokens carry email and email_verified (conformIdTokenClaims: false) when the scope has "email".
// Keys: a fresh RS256 key (random kid) at every start, so a restarted provider signs with a key that a
// client's cached JWKS does not hold.
// Prints "oidc-provider ready <port>" on stdout once it listens; exits when stdin closes or on SIGTERM.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const [portText, toolsDir, clientId, clientSecret] = process.argv.slice(2);
if (!portText || !toolsDir || !clientId || !clientSecret) {
  process.stderr.write('usage: node oidc_provider.mjs <port> <tools dir> <client id> <client secret>\n');
  process.exit(2);
}
const port = Number(portText);
// stdout carries the ready line only (the test may stop reading it): the package's notices go to stderr.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});
const require = createRequire(path.resolve(toolsDir, 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const redirectUris = ['http://127.0.0.1:9/cb'];
const client = (id, secret, idTokenAlg = 'RS256') => ({
  client_id: id,
  client_secret: secret,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: idTokenAlg,
});

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig',
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    client(clientId, clientSecret),
    client('other-client', `${clientSecret}-other`),
    client('hs-client', `${clientSecret}-hs`, 'HS256'),
  ],
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { methods: ['S256'], required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email', 'offline_access'],
  // The email claims in the ID token itself, as Entra ID and most providers do (by default oidc-provider keeps
  // scope-requested claims for the UserInfo endpoint when the response_type is code).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const unverified = id.startsWith('unverified+');
    const email = unverified ? id.slice('unverified+'.length) : id;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email, email_verified: !unverified };
      },
    };
  },
});
// Errors a client provokes on purpose (a code of another client, ...) are part of the tests: keep stderr short.
provider.on('server_error', (ctx, err) => process.stderr.write(`oidc-provider server_error: ${err}\n`));

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`oidc-provider ready ${port}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`oidc-provider: ${err.message}\n`);
  process.exit(1);
});

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
