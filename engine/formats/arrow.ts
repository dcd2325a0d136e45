/**
 * Arrow IPC stream bodies. apache-arrow decodes lazily over the body's own bytes, so a batch's
 * columns are views into the request buffer: nothing is copied until the kernels take them.
 */
import { type RecordBatch, RecordBatchReader } from 'apache-arrow';
import { SluiceError } from '../errors.ts';

export function parseArrow(body: Uint8Array): RecordBatch[] {
  if (body.length === 0) throw new SluiceError('BODY_EMPTY');
  let batches: RecordBatch[];
  try {
    const reader = RecordBatchReader.from(body);
    batches = [...reader];
  } catch (e) {
    throw new SluiceError('BODY_UNPARSEABLE', `not a readable Arrow IPC stream: ${(e as Error).message}`);
  }
  for (const b of batches) checkBatch(b);
  return batches;
}

/**
 * A truncated stream can still decode into a batch whose buffers are short: reject it here, so a
 * kernel never sees a column that claims more rows than it holds.
 */
export function checkBatch(b: RecordBatch): void {
  for (const child of b.data.children) {
    if (child.length !== b.numRows) {
      throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column has a different length than its batch');
    }
    const offsets = child.valueOffsets as Int32Array | undefined;
    if (offsets && child.values && offsets.length >= child.offset + child.length + 1) {
      const end = Number(offsets[child.offset + child.length]);
      if (end > (child.values as Uint8Array).length) {
        throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column is truncated');
      }
    } else if (offsets && offsets.length < child.offset + child.length + 1) {
      throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column is truncated');
    }
  }
}
