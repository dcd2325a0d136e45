/**
 * Every route the service registers × every way of calling it: no key, a malformed key, a wrong
 * secret, a revoked key, and a key of each role. The routes come from the running app, so a route
 * added later joins this matrix by itself, and fails it until the contract's table below names it.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAuth } from '../../api/auth.ts';
import { createKey, revokeKey } from '../../engine/auth/keys.ts';
import { ROLES, type Role } from '../../engine/auth/roles.ts';
import { Store } from '../../engine/store.ts';
import { addKey, bearer, type Reply, send, service, type TestService, tempDir } from '../support/service.ts';

/** CONTRACT §3: the role each route requires (null: public). HEAD goes with GET. */
const CONTRACT: { method: string; path: RegExp; role: Role | null }[] = [
  { method: 'POST', path: /^\/v1\/batches$/, role: 'ingest' },
  { method: 'POST', path: /^\/v1\/validate$/, role: 'ingest' },
  { method: 'GET', path: /^\/v1\/batches\/:batch_id$/, role: 'analyst' },
  { method: 'GET', path: /^\/v1\/quarantine$/, role: 'analyst' },
  { method: 'POST', path: /^\/v1\/quarantine\/:tx_id\/resolve$/, role: 'analyst' },
  { method: 'GET', path: /^\/v1\/alerts$/, role: 'analyst' },
  { method: 'GET', path: /^\/v1\/reports\/:name$/, role: 'analyst' },
  { method: 'GET', path: /^\/v1\/audit(\/.*)?$/, role: 'auditor' },
  { method: 'GET', path: /^\/v1\/lineage\/.+$/, role: 'analyst' },
  { method: 'DELETE', path: /^\/v1\/subjects\/:customer_id$/, role: 'admin' },
  { method: 'GET', path: /^\/(metrics|healthz|readyz|docs\/json)$/, role: null },
];

function contractRole(method: string, url: string): Role | null | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return CONTRACT.find((c) => c.method === m && c.path.test(url))?.role;
}

/** What each role may reach: its own role, and admin also ingest, analyst and auditor. */
function grants(key: Role, route: Role): boolean {
  return key === route || (key === 'admin' && route !== 'pii');
}

const dir = tempDir('sluice-matrix-');
let svc: TestService;
const roleKeys = new Map<Role, string>();
let revoked = '';

beforeAll(async () => {
  for (const r of ROLES) roleKeys.set(r, await addKey(dir.path, [r], r));
  const store = new Store({ dataDir: dir.path });
  const gone = await createKey(store, { roles: ['admin'], actor: 'cli' });
  await revokeKey(store, gone.record.id, 'cli');
  await store.close();
  revoked = gone.key;
  svc = await service(dir.path);
});
afterAll(async () => {
  await svc?.close();
  dir.remove();
});

/** A concrete request for a route pattern: path parameters filled, a small JSON body for POST. */
function call(method: string, url: string, headers: Record<string, string>): Promise<Reply> {
  const path = url.replace(/:[a-z_]+/g, 'matrix-x').replace(/\*/g, 'matrix-x');
  const post = method === 'POST';
  return send(method as 'GET', `${svc.url}${path}`, {
    key: null,
    headers: post ? { 'content-type': 'application/json', ...headers } : headers,
    ...(post ? { body: '{}' } : {}),
  });
}

function tampered(key: string): string {
  return `${key.slice(0, -1)}${key.at(-1) === 'A' ? 'B' : 'A'}`;
}

describe('the route × caller matrix', () => {
  it('has a role or an explicit null on every route, and exactly the four public routes', () => {
    expect(svc.routes.length).toBeGreaterThanOrEqual(20);
    for (const r of svc.routes) {
      expect(r.role === null || ROLES.includes(r.role), `${r.method} ${r.url}`).toBe(true);
      expect(contractRole(r.method, r.url), `${r.method} ${r.url} is not in CONTRACT §3's table`).toBe(
        r.role,
      );
    }
    const open = new Set(svc.routes.filter((r) => r.role === null).map((r) => r.url));
    expect([...open].sort()).toEqual(['/docs/json', '/healthz', '/metrics', '/readyz']);
  });

  it('documents in /docs/json that every non-public route takes a bearer key', async () => {
    const doc = (await send('GET', `${svc.url}/docs/json`, { key: null })).json;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const r of svc.routes.filter((x) => x.method !== 'HEAD')) {
      const op = doc.paths[r.url.replace(/:([a-z_]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      if (!op) continue; // hidden from the document (/metrics, /docs/json)
      expect(op.security, `${r.method} ${r.url}`).toEqual(r.role === null ? undefined : [{ bearer: [] }]);
    }
  });

  it('answers one indistinct 401 to no key, a malformed key, a wrong secret and a revoked key', async () => {
    const analyst = roleKeys.get('analyst') as string;
    const cases: [string, Record<string, string>][] = [
      ['no key', {}],
      ['not bearer', { authorization: `Basic ${Buffer.from(`x:${analyst}`).toString('base64')}` }],
      ['malformed', bearer('sluice_123_abc')],
      ['unknown id', bearer(analyst.replace(/^sluice_[0-9a-f]{12}/, 'sluice_0123456789ab'))],
      ['bad secret', bearer(tampered(analyst))],
      ['revoked', bearer(revoked)],
    ];
    for (const route of svc.routes.filter((r) => r.role !== null)) {
      for (const [name, headers] of cases) {
        const r = await call(route.method, route.url, headers);
        const what = `${route.method} ${route.url}, ${name}`;
        expect(r.status, what).toBe(401);
        if (route.method !== 'HEAD') {
          expect(r.json, what).toEqual({
            error: {
              code: 'UNAUTHENTICATED',
              message: 'A valid API key is required: Authorization: Bearer <key>.',
            },
          });
        }
      }
    }
  });

  it('lets each role reach exactly its routes (admin: all but pii) and answers 403 elsewhere', async () => {
    for (const route of svc.routes) {
      for (const role of ROLES) {
        const r = await call(route.method, route.url, bearer(roleKeys.get(role) as string));
        const what = `${route.method} ${route.url} with a ${role} key → ${r.status} ${r.text.slice(0, 120)}`;
        if (route.role === null || grants(role, route.role)) {
          expect([401, 403], what).not.toContain(r.status);
        } else {
          expect(r.status, what).toBe(403);
          if (route.method !== 'HEAD') expect(r.json.error.code, what).toBe('FORBIDDEN');
        }
      }
    }
  });

  it('serves public routes with no key or a bad one', async () => {
    for (const route of svc.routes.filter((r) => r.role === null)) {
      for (const headers of [{}, bearer('garbage'), bearer(revoked)]) {
        const r = await call(route.method, route.url, headers);
        expect([401, 403], `${route.method} ${route.url}`).not.toContain(r.status);
      }
    }
  });

  it('asks for a key before saying a URL does not exist', async () => {
    expect((await send('GET', `${svc.url}/v1/nothing-here`, { key: null })).status).toBe(401);
    expect(
      (await send('GET', `${svc.url}/v1/nothing-here`, { key: roleKeys.get('pii') as string })).status,
    ).toBe(404);
  });

  it('records the calling key in the batch record', async () => {
    const ingest = roleKeys.get('ingest') as string;
    const row = {
      tx_id: 'MATRIX-1',
      ts: new Date(Date.now() - 60_000).toISOString(),
      amount: '12.34',
      currency: 'GBP',
      direction: 'debit',
      channel: 'FPS',
      account_id: 'ACC-MATRIX',
    };
    const r = await send('POST', `${svc.url}/v1/batches`, {
      key: ingest,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([row]),
    });
    expect(r.status, r.text).toBe(201);
    const batch = await send('GET', `${svc.url}/v1/batches/${r.json.batch_id}`, {});
    expect(batch.json.source.key_id).toBe(ingest.split('_')[1]);
  });
});

describe('a route without a role', () => {
  it('is refused at registration, also inside a plugin, so it can never be public by accident', async () => {
    const app = Fastify();
    await installAuth(app, { store: { apiKeys: new Map() as never }, rateLimitPerMinute: 10 });
    expect(() => app.get('/v1/forgotten', async () => 'open')).toThrow(/declares no role/);
    app.register(async (scope) => {
      scope.get('/v1/in-a-plugin', async () => 'open');
    });
    await expect(app.ready()).rejects.toThrow(/declares no role/);
  });

  it('is refused with an unknown role too', async () => {
    const app = Fastify();
    await installAuth(app, { store: { apiKeys: new Map() as never }, rateLimitPerMinute: 10 });
    expect(() => app.get('/v1/typo', { config: { role: 'analysts' as Role } }, async () => 'open')).toThrow(
      /unknown role/,
    );
  });
});
