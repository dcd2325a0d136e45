/**
 * `sluice keys create|list|revoke`: API keys in a data dir's store, with or without the service
 * running (LMDB serialises writers across processes; a revocation holds from the next request).
 */
import { resolve } from 'node:path';
import { createKey, isKeyId, listKeys, MAX_LABEL_LENGTH, revokeKey } from '../engine/auth/keys.ts';
import { parseRoles, ROLES } from '../engine/auth/roles.ts';
import { DEFAULTS } from '../engine/config.ts';
import { SluiceError } from '../engine/errors.ts';
import { Store } from '../engine/store.ts';
import { parse } from './args.ts';

export const KEYS_USAGE = `usage: sluice keys create --role R [--role R…|--role R,R] [--label L] [--data-dir ./data]
       sluice keys list [--json] [--data-dir ./data]
       sluice keys revoke ID [--data-dir ./data]
  roles: ${ROLES.join(', ')} (admin implies ingest, analyst and auditor, never pii)
  create prints the key alone on stdout, once: only its scrypt hash is stored.
  Environment: SLUICE_DATA_DIR.`;

/** Who acts, in the audit log, for a command run on this machine. */
const ACTOR = 'cli';

export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    role: { type: 'string', multiple: true },
    label: { type: 'string' },
    json: { type: 'boolean' },
    'data-dir': { type: 'string' },
  });
  const [verb, ...rest] = positionals;
  const roles = (values.role as string[] | undefined) ?? [];
  const label = values.label as string | undefined;
  const usage = (why: string) => new SluiceError('USAGE', `${why}\n${KEYS_USAGE}`);
  // Every flag is checked against the verb before the store is opened.
  if (verb === 'create') {
    if (rest.length > 0) throw usage('create takes no arguments');
    parseRoles(roles);
    if (label !== undefined && (label.length === 0 || label.length > MAX_LABEL_LENGTH)) {
      throw usage(`--label is 1–${MAX_LABEL_LENGTH} characters`);
    }
  } else if (verb === 'list' || verb === 'revoke') {
    if (roles.length > 0 || label !== undefined) throw usage(`${verb} takes no --role or --label`);
    if (verb === 'list' && rest.length > 0) throw usage('list takes no arguments');
    if (verb === 'revoke' && (rest.length !== 1 || !isKeyId(rest[0] as string))) {
      throw usage('revoke takes one key id (12 hex characters, as keys list shows)');
    }
  } else {
    throw usage(verb ? `unknown keys command '${verb}'` : 'which keys command?');
  }

  const dataDir = resolve(
    (values['data-dir'] as string | undefined) ?? process.env.SLUICE_DATA_DIR ?? DEFAULTS.dataDir,
  );
  const store = new Store({ dataDir });
  try {
    if (verb === 'create') {
      const { key } = await createKey(store, {
        roles: parseRoles(roles),
        label: label ?? null,
        actor: ACTOR,
      });
      process.stdout.write(`${key}\n`);
      return 0;
    }
    if (verb === 'list') {
      const keys = listKeys(store);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(keys)}\n`);
        return 0;
      }
      const rows = [
        ['id', 'roles', 'label', 'created', 'revoked'],
        ...keys.map((k) => [k.id, k.roles.join(','), k.label ?? '', k.created_at, k.revoked_at ?? '']),
      ];
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
      for (const r of rows) {
        process.stdout.write(
          `${r
            .map((c, i) => c.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
        );
      }
      return 0;
    }
    const id = rest[0] as string;
    const outcome = await revokeKey(store, id, ACTOR);
    process.stderr.write(
      outcome === 'revoked' ? `sluice keys: revoked ${id}\n` : `sluice keys: ${id} was already revoked\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
