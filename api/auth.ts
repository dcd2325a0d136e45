/**
 * Authentication, authorisation and per-key rate limits for every route (CONTRACT §3).
 *
 * Each route declares the role it needs in its options, `config: { role: 'analyst' }`, or
 * `role: null` for the few public ones (/healthz, /readyz, /metrics, /docs/json). A route that
 * declares nothing is refused when it is registered, so a new route can never be public by accident.
 *
 * A request passes three steps, in this order:
 *   1. onRequest: the key is looked up without waiting (a key seen before, still unrevoked);
 *   2. the rate limit (@fastify/rate-limit, its own onRequest step on each route), bucketed by key
 *      id once known, else by client IP, so guessing at secrets is throttled before any scrypt;
 *   3. preParsing: a key not seen before is verified (scrypt), then the role is checked, before a
 *      byte of the body is read.
 * Every failure to authenticate is one 401 UNAUTHENTICATED whose message does not say why.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isRole, type Role } from '../engine/auth/roles.ts';
import { ANONYMOUS, KeyVerifier, type Principal } from '../engine/auth/verifier.ts';
import { SluiceError } from '../engine/errors.ts';
import type { Store } from '../engine/store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route requires, or null for a public route. Every route must say. */
    role?: Role | null;
  }
  interface FastifyRequest {
    /** Who is calling: set on every request; `ANONYMOUS` on public routes. */
    principal: Principal;
  }
}

export interface AuthOptions {
  store: Pick<Store, 'apiKeys'>;
  /** Requests per minute per key (unauthenticated callers: per IP). */
  rateLimitPerMinute: number;
}

export interface DeclaredRoute {
  method: string;
  url: string;
  role: Role | null;
}

/** A key still to verify (step 3), when step 1 could not tell. */
const UNVERIFIED = Symbol('sluice.unverified-key');
type WithPending = FastifyRequest & { [UNVERIFIED]?: string };

const routeTables = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route registered on `app` with the role it declared (HEAD twins included). */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return routeTables.get(app) ?? [];
}

/** The key of `Authorization: Bearer <key>`, or null. */
function bearerKey(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m?.[1] ?? null;
}

/**
 * Installs the hooks on `app` itself (not an encapsulated child), before any route is added.
 */
export async function installAuth(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const verifier = new KeyVerifier(opts.store);
  const routes: DeclaredRoute[] = [];
  routeTables.set(app, routes);

  app.addHook('onRoute', (route) => {
    const role = route.config?.role;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (role === undefined) {
      throw new Error(
        `route ${methods.join(',')} ${route.url} declares no role (config.role; null if public)`,
      );
    }
    if (role !== null && !isRole(role))
      throw new Error(`route ${route.url} declares an unknown role '${role}'`);
    for (const method of methods) routes.push({ method, url: route.url, role });
    // The OpenAPI document says which key each route takes (scheme `bearer`, see api/server.ts).
    if (role !== null && route.schema) {
      const said = route.schema.description ? `${route.schema.description}\n\n` : '';
      route.schema = {
        ...route.schema,
        security: [{ bearer: [] }],
        description: `${said}Requires an API key with the \`${role}\` role${role === 'pii' || role === 'admin' ? '' : ' (or `admin`)'}.`,
      } as typeof route.schema;
    }
  });

  app.decorateRequest('principal', null as unknown as Principal);

  app.addHook('onRequest', async (req) => {
    req.principal = ANONYMOUS;
    if (!req.is404 && req.routeOptions.config.role === null) return;
    const key = bearerKey(req.headers.authorization);
    if (key === null) return;
    const known = verifier.known(key);
    if (known) req.principal = known;
    else if (known === undefined) (req as WithPending)[UNVERIFIED] = key;
  });

  await app.register(rateLimit, {
    max: opts.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) =>
      req.principal !== ANONYMOUS ? `key:${req.principal.keyId}` : `ip:${normalizeIP(req.ip)}`,
    errorResponseBuilder: (_req, ctx) =>
      new SluiceError('RATE_LIMITED', `More than ${ctx.max} requests a minute; retry in ${ctx.after}.`),
  });

  app.addHook('preParsing', async (req) => {
    const role = req.is404 ? 'any' : req.routeOptions.config.role;
    if (role === null) return;
    const pending = (req as WithPending)[UNVERIFIED];
    if (pending !== undefined) req.principal = (await verifier.verify(pending)) ?? ANONYMOUS;
    if (req.principal === ANONYMOUS) throw new SluiceError('UNAUTHENTICATED');
    // Unmatched URLs need a key (then 404); a route without a role cannot be reached at all.
    if (role === 'any') return;
    if (role === undefined || !req.principal.roles.has(role)) throw new SluiceError('FORBIDDEN');
  });
}
