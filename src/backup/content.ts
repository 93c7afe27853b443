/**
 * The backup's half of the content record (manifest.ts `ContentRecord`): what runs in the dump's
 * snapshot session beside pg_dump, and the sequence reads bracketing pg_dump's run.
 */
import type { ContentRecord, Manifest } from '../manifest.js';
import {
  PINNED_SETTINGS,
  type FingerprintAlgorithm,
  type SequenceBounds,
  type SequenceValue,
} from '../postgres/fingerprint.js';
import type { SnapshotSession } from '../postgres/inspect.js';

/** What the session produced beside pg_dump. */
export interface Counted {
  rowCounts: Manifest['rowCounts']['tables'];
  catalogCounts: Manifest['objects'];
  /** Without sequences (added by {@link ContentRun.finish}); null with `verify: counts`. */
  content: Omit<ContentRecord, 'sequences'> | null;
}

type Sequences = { schema: string; name: string; value: SequenceValue }[];

/**
 * One backup's reads in its snapshot session. Construct it before pg_dump starts: the first
 * sequence read is queued first; {@link before} resolves once it is done (await it before starting
 * pg_dump). Every call runs in the session's savepoint, so a failure never aborts the snapshot.
 */
export class ContentRun {
  /** Resolves when the "before" sequence read is done (immediately with `verify: counts`). */
  readonly before: Promise<unknown>;
  private readonly sequencesBefore: Promise<Sequences> | undefined;

  constructor(
    private readonly session: SnapshotSession,
    private readonly rowMode: Manifest['rowCounts']['mode'],
    /** undefined: `verify: counts`, no content record. */
    private readonly algorithm: FingerprintAlgorithm | undefined,
  ) {
    this.sequencesBefore = algorithm ? session.sequences() : undefined;
    this.before = this.sequencesBefore ?? Promise.resolve();
  }

  /**
   * Row counts, object counts and (content) the fingerprints and states, serially on the session.
   * With content and exact counts, each table is read once: its count comes from the fingerprint scan.
   * @throws DumpError naming the table whose count or fingerprint failed.
   */
  async counts(): Promise<Counted> {
    const { session, algorithm, rowMode } = this;
    if (!algorithm) {
      const [rowCounts, catalogCounts] = await Promise.all([session.rowCounts(rowMode), session.catalogCounts()]);
      return { rowCounts, catalogCounts, content: null };
    }
    const [, tables, catalogCounts, largeObjects, state] = await Promise.all([
      this.sequencesBefore,
      rowMode === 'exact' ? session.tableContents(algorithm) : session.rowCounts('estimate'),
      session.catalogCounts(),
      session.largeObjects(algorithm),
      session.catalogState(),
    ]);
    const fingerprinted = rowMode === 'exact';
    return {
      rowCounts: tables.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows })),
      catalogCounts,
      content: {
        algorithm,
        settings: { ...PINNED_SETTINGS },
        tables: fingerprinted ? (tables as ContentRecord['tables']) : null,
        largeObjects,
        ...state,
      },
    };
  }

  /** The content record, with sequences read again now (call once pg_dump has ended). */
  async finish(counted: Counted): Promise<ContentRecord | null> {
    if (!counted.content || !this.sequencesBefore) return null;
    const before = await this.sequencesBefore;
    const after = new Map((await this.session.sequences()).map((s) => [`${s.schema}.${s.name}`, s.value]));
    const sequences: SequenceBounds[] = [];
    for (const s of before) {
      const end = after.get(`${s.schema}.${s.name}`);
      if (end) sequences.push({ schema: s.schema, name: s.name, before: s.value, after: end });
    }
    return { ...counted.content, sequences };
  }
}
