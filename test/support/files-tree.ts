/**
 * A small tree of uploads for the files-archive tests (src/files/): nested folders, unicode and
 * space names, names longer than a tar header holds, symbolic links, an empty folder, a fifo, a 20 MB file, 2,000 small files, odd modes
 * and fixed modification times. Plus what the tests compare: each entry's type, mode, mtime, link
 * target and bytes, read from disk without following links.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export const MiB = 1024 * 1024;
const FIXED = new Date('2021-03-04T05:06:07Z');

/** Builds the tree under `root/uploads`; `smallFiles` small files in 4 folders, a `bigBytes` file. */
export function buildUploads(root: string, { smallFiles = 2000, bigBytes = 20 * MiB } = {}): void {
  const up = join(root, 'uploads');
  mkdirSync(join(up, 'nested/deep/er'), { recursive: true });
  mkdirSync(join(up, 'with space/ünïcødé 文件'), { recursive: true });
  mkdirSync(join(up, 'empty'));
  writeFileSync(join(up, 'nested/deep/er/a.txt'), 'a deep file\n');
  writeFileSync(join(up, 'with space/ünïcødé 文件/photo 1.jpg'), Buffer.alloc(3000, 0xab));
  writeFileSync(join(up, 'with space/tab\there.txt'), 'tab in the name\n');
  mkdirSync(join(up, `long-${'d'.repeat(90)}`));
  writeFileSync(
    join(up, `long-${'d'.repeat(90)}`, `${'n'.repeat(150)}.txt`),
    'a name past the 100 bytes of a tar header\n',
  );
  const block = createHash('sha256').update('seed').digest();
  const big = Buffer.alloc(bigBytes);
  for (let i = 0; i < bigBytes; i += 32) block.copy(big, i, 0, Math.min(32, bigBytes - i));
  for (let i = 0; i < bigBytes; i += 4096) big.writeUInt32LE(i, i); // varied enough not to vanish under zstd
  writeFileSync(join(up, 'big.bin'), big);
  for (let i = 0; i < smallFiles; i += 1) {
    const folder = join(up, `small/${i % 4}`);
    if (i < 4) mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 7)));
  }
  writeFileSync(join(up, 'secret.key'), 'private\n');
  chmodSync(join(up, 'secret.key'), 0o600);
  writeFileSync(join(up, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(up, 'run.sh'), 0o750);
  symlinkSync('nested/deep/er/a.txt', join(up, 'link-to-a'));
  symlinkSync('/etc/hostname', join(up, 'absolute-link'));
  symlinkSync('missing/target', join(up, 'dangling'));
  execFileSync('mkfifo', [join(up, 'queue.fifo')]);
  utimesSync(join(up, 'nested/deep/er/a.txt'), FIXED, FIXED);
  lutimesSync(join(up, 'link-to-a'), FIXED, FIXED);
  utimesSync(join(up, 'nested/deep'), FIXED, FIXED);
  utimesSync(join(up, 'empty'), FIXED, FIXED);
}

/** One entry as compared after a round trip. */
export interface Observed {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  /** Whole seconds (the gnu tar format keeps seconds). */
  mtime: number;
  link?: string;
  sha256?: string;
}

/** Every entry under `folder` by relative path (links read, not followed; modes of links left out). */
export function observeTree(folder: string, prefix = ''): Map<string, Observed> {
  const out = new Map<string, Observed>();
  for (const name of readdirSync(join(folder, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const abs = join(folder, rel);
    const st = lstatSync(abs);
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) {
      out.set(rel, { type: 'dir', mode: st.mode & 0o7777, mtime });
      for (const [k, v] of observeTree(folder, rel)) out.set(k, v);
    } else if (st.isSymbolicLink()) {
      out.set(rel, { type: 'symlink', mode: 0, mtime, link: readlinkSync(abs) });
    } else if (st.isFile()) {
      out.set(rel, {
        type: 'file',
        mode: st.mode & 0o7777,
        mtime,
        sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
      });
    } else {
      out.set(rel, { type: 'other', mode: st.mode & 0o7777, mtime });
    }
  }
  return out;
}
