/** GDPR erasure over HTTP (CONTRACT §3, role `admin`): `DELETE /v1/subjects/{customer_id}`. */
import type { FastifyInstance } from 'fastify';
import { eraseSubject } from '../../engine/pii/erasure.ts';
import type { RetentionPolicy } from '../../engine/retention.ts';
import type { Store } from '../../engine/store.ts';

export async function subjectRoutes(
  app: FastifyInstance,
  opts: { store: Store; retention: RetentionPolicy },
): Promise<void> {
  app.delete(
    '/v1/subjects/:customer_id',
    {
      config: { role: 'admin' },
      schema: {
        summary:
          "Erase a data subject (crypto-shredding): destroys the subject's keys; says what became unreadable and when the last raw copy goes",
        params: {
          type: 'object',
          properties: { customer_id: { type: 'string', minLength: 1, maxLength: 64 } },
          required: ['customer_id'],
        },
      },
    },
    async (req) => {
      const { customer_id } = req.params as { customer_id: string };
      const reply = await eraseSubject(opts.store, customer_id, req.principal.keyId, opts.retention);
      req.log.info({ keys_destroyed: reply.keys_destroyed, audit_seq: reply.audit_seq }, 'subject erased');
      return reply;
    },
  );
}
