/**
 * Lineage of one transaction (role `analyst`): its batch and request row, where the row went
 * (a silver Parquet file and row, still staged, or quarantine) and its AML alert, if any.
 * No row content: ids, paths, row numbers and codes only.
 */
import type { FastifyInstance } from 'fastify';
import { txLineage } from '../../engine/lineage.ts';
import type { Store } from '../../engine/store.ts';

export async function lineageRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  const { store } = opts;
  app.get(
    '/v1/lineage/tx/:tx_id',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Lineage of one transaction: batch, row, silver file and row (or quarantine), alert',
        params: {
          type: 'object',
          properties: {
            tx_id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' },
          },
          required: ['tx_id'],
        },
        response: {
          200: {
            type: 'object',
            properties: {
              tx_id: { type: 'string' },
              batch_id: { type: 'string' },
              row: { type: 'integer' },
              layer: { type: 'string', enum: ['silver', 'quarantine', 'unknown'] },
              silver: {
                type: 'object',
                properties: {
                  state: { type: 'string', enum: ['rolled', 'staged', 'unindexed'] },
                  date: { type: 'string' },
                  path: { type: 'string' },
                  row: { type: 'integer' },
                  part_row: { type: 'integer' },
                  batch_rows: {
                    type: 'object',
                    properties: { first: { type: 'integer' }, count: { type: 'integer' } },
                  },
                  files: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        path: { type: 'string' },
                        firstRow: { type: 'integer' },
                        rows: { type: 'integer' },
                      },
                    },
                  },
                },
              },
              quarantine: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  status: { type: 'string' },
                  reasons: { type: 'array', items: { type: 'string' } },
                },
              },
              alert: {
                type: ['object', 'null'],
                properties: {
                  id: { type: 'string' },
                  score: { type: 'integer' },
                  rules: { type: 'array', items: { type: 'string' } },
                  raised_at: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    async (req) => txLineage(store, (req.params as { tx_id: string }).tx_id),
  );
}
