// A real OpenID provider for tests: oidc-provider (ESM) on 127.0.0.1 with an
// ephemeral port, run as a child process of the test (test/helpers/oidc.ts).
//
// Input: one JSON argument (or env OIDC_PROVIDER_CONFIG):
//   { clientId, clientSecret, redirectUris: [...], postLogoutRedirectUris?: [...],
//     users: { <login>: { name, roles } }, port? }  (port: a fixed one; default ephemeral)
// Output: one JSON line on stdout, { "issuer": "http://127.0.0.1:<port>" }.
//
// Users sign in at the provider's own development login form (devInteractions):
// any password, the login becomes the account id (`sub`). Claims `name` and
// `trialbridge_roles` come from `users`. PKCE is required; RP-initiated logout
// is enabled. The first-party client is granted `openid profile` without a
// consent screen, as hospital single sign-on does for its own applications.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG ?? '{}');
const users = cfg.users ?? {};

const server = http.createServer();
await new Promise((resolve) => server.listen(cfg.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.clientId,
    client_secret: cfg.clientSecret,
    redirect_uris: cfg.redirectUris,
    post_logout_redirect_uris: cfg.postLogoutRedirectUris ?? [],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  claims: { openid: ['sub'], profile: ['name', 'trialbridge_roles'] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async findAccount(_ctx, id) {
    const u = users[id];
    return { accountId: id, async claims() { return { sub: id, name: u?.name ?? id, trialbridge_roles: u?.roles ?? [] }; } };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});
// The development-only warnings go to stderr; stdout carries only the JSON line.
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent closing our stdin (it exited) also stops us, so no provider outlives its test.
process.stdin.on('end', stop);
process.stdin.resume();
