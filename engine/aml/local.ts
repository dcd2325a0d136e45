/**
 * AML scoring in process, for `sluice validate` and `sluice aml-eval`: one state for the whole
 * stream, kept in memory (evicted accounts in a Map), so each row sees every valid row of the
 * file before it in event time, as CONTRACT §4 asks. Nothing is written anywhere.
 */
import type { ColumnSet } from '../columns.ts';
import type { BatchVerdicts } from '../validator.ts';
import { AmlEngine, MemorySlotStore, type ScoredRows } from './engine.ts';
import { inputFromVerdicts } from './input.ts';
import { DEFAULT_RULES_PATH, loadRules } from './rules.ts';
import { DEFAULT_SANCTIONS_PATHS, SanctionsList } from './sanctions.ts';

export interface LocalAmlOptions {
  rulesPath?: string;
  sanctionsPaths?: string[];
  /** Resident accounts before eviction to the in-memory store. */
  capacity?: number;
}

export class LocalAml {
  private readonly store: MemorySlotStore;

  private constructor(readonly engine: AmlEngine) {
    this.store = new MemorySlotStore();
  }

  static open(opts: LocalAmlOptions = {}): LocalAml {
    const rules = loadRules(opts.rulesPath ?? DEFAULT_RULES_PATH);
    const list = SanctionsList.load(opts.sanctionsPaths ?? DEFAULT_SANCTIONS_PATHS);
    return new LocalAml(new AmlEngine(rules, list.screen, opts.capacity));
  }

  /** Scores a validated batch in event-time order, carrying its valid rows into the state. */
  score(batch: ColumnSet, verdicts: BatchVerdicts): ScoredRows {
    const input = inputFromVerdicts(this.engine.kernel.memory, batch, verdicts, this.engine.rules, true);
    return this.engine.score(input, null, this.store, false);
  }
}
