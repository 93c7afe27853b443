import { createHash } from 'node:crypto';

import { Header, Pax } from 'tar';

import { FilesArchiveError } from '../../src/files/errors.js';
import { ListingCollector } from '../../src/files/fingerprint.js';
import { TarListingReader, type TarListingEntry } from '../../src/files/tar-listing.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** One 512-byte header block (plus body and padding) as a tar writer lays it out. */
function entry(fields: ConstructorParameters<typeof Header>[0] & object, body = ''): Buffer {
  const bytes = Buffer.from(body);
  const header = new Header({ mode: 0o644, mtime: new Date(0), size: bytes.length, ...fields });
  header.encode();
  const pad = (512 - (bytes.length % 512)) % 512;
  return Buffer.concat([header.block as Buffer, bytes, Buffer.alloc(pad)]);
}

/** A GNU `L`/`K` record carrying a long name for the next entry. */
function gnuLong(type: 'L' | 'K', name: string): Buffer {
  const header = new Header({ path: '././@LongLink', mode: 0o644, size: Buffer.byteLength(name) + 1 });
  header.type = type === 'L' ? 'NextFileHasLongPath' : 'NextFileHasLongLinkpath';
  header.encode();
  const body = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
  return Buffer.concat([header.block as Buffer, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

const end = Buffer.alloc(1024);

function read(archive: Buffer, chunk = archive.length): [TarListingEntry, string | undefined][] {
  const seen: [TarListingEntry, string | undefined][] = [];
  const reader = new TarListingReader((e, link) => seen.push([e, link]));
  for (let at = 0; at < archive.length; at += chunk) reader.write(archive.subarray(at, at + chunk));
  reader.end();
  return seen;
}

const longName = `media/${'d'.repeat(120)}/${'ü'.repeat(60)}.jpg`;
const archive = Buffer.concat([
  entry({ path: 'media/', type: 'Directory', size: 0 }),
  entry({ path: 'media/a.txt', type: 'File' }, 'hello'),
  entry({ path: 'media/empty.txt', type: 'File' }),
  entry({ path: 'media/link', type: 'SymbolicLink', linkpath: 'a.txt', size: 0 }),
  entry({ path: 'media/hard', type: 'Link', linkpath: 'media/a.txt', size: 0 }),
  gnuLong('L', longName),
  entry({ path: longName.slice(0, 99), type: 'File' }, 'long'),
  new Pax({ path: `media/pax-${'p'.repeat(150)}.bin` }).encode(),
  entry({ path: 'media/pax-truncated.bin', type: 'File' }, 'x'.repeat(700)),
  entry({ path: 'media/fifo', type: 'FIFO', size: 0 }),
  end,
]);

test.each([[1], [7], [511], [512], [513], [4096], [archive.length]])(
  'chunks of %i bytes give every entry, long names applied',
  (chunk) => {
    expect(read(archive, chunk)).toEqual([
      [{ type: 'dir', path: 'media/', size: 0, detail: '' }, undefined],
      [{ type: 'file', path: 'media/a.txt', size: 5, detail: sha('hello') }, undefined],
      [{ type: 'file', path: 'media/empty.txt', size: 0, detail: sha('') }, undefined],
      [{ type: 'symlink', path: 'media/link', size: 0, detail: 'a.txt' }, undefined],
      [{ type: 'file', path: 'media/hard', size: 0, detail: '' }, 'media/a.txt'],
      [{ type: 'file', path: longName, size: 4, detail: sha('long') }, undefined],
      [{ type: 'file', path: `media/pax-${'p'.repeat(150)}.bin`, size: 700, detail: sha('x'.repeat(700)) }, undefined],
    ]);
  },
);

test('a pax record applies to the one entry after it', () => {
  const seen = read(
    Buffer.concat([
      new Pax({ path: 'media/renamed.txt' }).encode(),
      entry({ path: 'media/b.txt', type: 'File' }, 'b'),
      entry({ path: 'media/c.txt', type: 'File' }, 'c'),
      end,
    ]),
  );
  expect(seen.map(([e]) => e.path)).toEqual(['media/renamed.txt', 'media/c.txt']);
});

test('a GNU long link name applies to the link after it', () => {
  const target = `media/${'t'.repeat(150)}`;
  const seen = read(
    Buffer.concat([gnuLong('K', target), entry({ path: 'media/l', type: 'SymbolicLink', size: 0 }), end]),
  );
  expect(seen).toEqual([[{ type: 'symlink', path: 'media/l', size: 0, detail: target }, undefined]]);
});

test('a damaged header is refused', () => {
  const damaged = Buffer.from(archive);
  damaged.writeUInt8((damaged[512 + 10] ?? 0) ^ 0xff, 512 + 10); // inside media/a.txt's header
  expect(() => read(damaged)).toThrow(FilesArchiveError);
});

test('bytes that are not a tar are refused', () => {
  expect(() => read(Buffer.from('{"not":"a tar"}'.repeat(100)))).toThrow(/wrong checksum/);
});

test('an archive that ends inside an entry is refused', () => {
  expect(() => read(archive.subarray(0, 512 * 2 + 3))).toThrow(/truncated/);
});

test('the collector resolves hard links to their target and keeps the last entry of a path', () => {
  const collector = new ListingCollector();
  collector.write(
    Buffer.concat([
      entry({ path: './media/', type: 'Directory', size: 0 }),
      entry({ path: './media/a.txt', type: 'File' }, 'first'),
      entry({ path: './media/a.txt', type: 'File' }, 'hello'),
      entry({ path: './media/hard', type: 'Link', linkpath: './media/a.txt', size: 0 }),
      end,
    ]),
  );
  const twin = new ListingCollector();
  twin.write(
    Buffer.concat([
      entry({ path: 'media', type: 'Directory', size: 0 }),
      entry({ path: 'media/a.txt', type: 'File' }, 'hello'),
      entry({ path: 'media/hard', type: 'File' }, 'hello'),
      end,
    ]),
  );
  const result = collector.end();
  expect(result).toEqual(twin.end());
  expect(result).toMatchObject({ files: 2, bytes: 10, entries: 3 });
});
