import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Header } from 'tar';

import { ListingCollector } from '../../src/files/fingerprint.js';
import { runFilesTap, TAP_LISTING_PREFIX } from '../../src/files/tap-child.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tap-child-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tarOf(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, body] of Object.entries(files)) {
    const header = new Header({ path: name, type: 'File', mode: 0o644, size: body.length, mtime: new Date(0) });
    header.encode();
    blocks.push(header.block as Buffer, Buffer.from(body), Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** Runs the tap from `input` (bytes in a file) into a file; its exit status, output and report lines. */
function tap(input: Buffer): { status: number; output: Buffer; lines: string[] } {
  writeFileSync(path.join(dir, 'in'), input);
  const fdIn = openSync(path.join(dir, 'in'), 'r');
  const fdOut = openSync(path.join(dir, 'out'), 'w');
  const lines: string[] = [];
  try {
    const status = runFilesTap({ input: fdIn, output: fdOut, report: (l) => lines.push(l) });
    return { status, output: readFileSync(path.join(dir, 'out')), lines };
  } finally {
    closeSync(fdIn);
    closeSync(fdOut);
  }
}

test('copies the archive unchanged and reports its listing', () => {
  const archive = tarOf({ 'a.txt': 'hello', 'b/c.bin': 'x'.repeat(3000) });
  const { status, output, lines } = tap(archive);
  expect(status).toBe(0);
  expect(output.equals(archive)).toBe(true);
  const collector = new ListingCollector();
  collector.write(archive);
  expect(lines).toEqual([`${TAP_LISTING_PREFIX}${JSON.stringify(collector.end())}`]);
});

test('bytes that are not a tar: exit 1 and the reason, no listing', () => {
  const { status, lines } = tap(Buffer.from('PGDMP'.repeat(300)));
  expect(status).toBe(1);
  expect(lines).toEqual([expect.stringMatching(/cannot be read as tar/)]);
});
