/** Where a shard keeps its markers in the `meta` database, and its output key per batch. */
export function amlKeys(shard: number) {
  return {
    /** The sequence number the checkpointed state reflects. */
    ckpt: `aml|ckpt|${shard}`,
    /** The rules hash the checkpoint was taken under. */
    ckptRules: `aml|ckptRules|${shard}`,
    /** The last sequence number whose outputs are written. */
    done: `aml|done|${shard}`,
    /** `amlOut` key of a batch's per-row scores from this shard (16 shards at most). */
    out: (seq: number) => seq * 16 + shard,
  };
}

export const MAX_SHARDS = 16;
