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
  /** Without sequences (added by {@link ContentRun.finish}). */
  content: Omit<ContentRecord, 'sequences'>;
}

type Sequences = { schema: string; name: string; value: SequenceValue }[];

/**
 * One backup's reads in its snapshot session. Construct it before pg_dump starts: the first
 * sequence read is queued first; {@link before} resolves once it is done (await it before starting
 * pg_dump). Every call runs in the session's savepoint, so a failure never aborts the snapshot.
 */
export class ContentRun {
  /** Resolves when the "before" sequence read is done. */
  readonly before: Promise<unknown>;
  private readonly sequencesBefore: Promise<Sequences>;

  constructor(
    private readonly session: SnapshotSession,
    private readonly rowMode: Manifest['rowCounts']['mode'],
    private readonly algorithm: FingerprintAlgorithm,
    /**
     * `verify: content`: fingerprint the tables (with exact counts: in the counting scan) and the
     * large objects' data. `verify: counts`: neither (the catalog states and sequences are cheap
     * and always recorded).
     */
    private readonly fingerprints: boolean,
  ) {
    this.sequencesBefore = session.sequences();
    this.before = this.sequencesBefore;
  }

  /**
   * Row counts, object counts and (content) the fingerprints and states, serially on the session.
   * With content and exact counts, each table is read once: its count comes from the fingerprint scan.
   * @throws DumpError naming the table whose count or fingerprint failed.
   */
  async counts(): Promise<Counted> {
    const { session, algorithm, rowMode } = this;
    const fingerprinted = this.fingerprints && rowMode === 'exact';
    const [, tables, catalogCounts, largeObjects, state] = await Promise.all([
      this.sequencesBefore,
      fingerprinted ? session.tableContents(algorithm) : session.rowCounts(rowMode),
      session.catalogCounts(),
      this.fingerprints
        ? session.largeObjects(algorithm)
        : Promise.resolve({ count: null, fingerprint: null, reason: 'verify: counts' } as const),
      session.catalogState(),
    ]);
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
  async finish(counted: Counted): Promise<ContentRecord> {
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
