// Process measurements of the benches, from /proc (Linux): CPU seconds of the machine, of one
// process and of the PostgreSQL server, resident memory of a process and its descendants, and the
// bytes under a folder.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU seconds (user, nice, system, irq, softirq, steal) of every core since boot, from /proc/stat. */
export function machineCpuSeconds() {
  const [user, nice, system, , , irq, softirq, steal = 0] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/**
 * CPU seconds of the PostgreSQL server: the postmaster's user and system time plus that of its
 * children it has reaped (exited backends: fields 16 and 17 of /proc/PID/stat), plus its live
 * children's (backends, checkpointer, …). Differences across a run count the backends it used.
 */
export function serverCpuSeconds(dataDir) {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return 0;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return own + kids.reduce((sum, k) => sum + safeCpu(Number(k)), 0);
  } catch {
    return 0;
  }
}

function safeCpu(pid) {
  try {
    return processCpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** User and system CPU seconds of one process (fields 14 and 15 of /proc/PID/stat). */
export function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function descendants(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    let kids = [];
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        kids = kids.concat(
          readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
        );
      }
    } catch {
      // exited
    }
    out.push(...kids);
    stack.push(...kids);
  }
  return out;
}

export function duBytes(dir) {
  let total = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      try {
        if (e.isDirectory()) walk(p);
        else total += statSync(p).size;
      } catch {
        // vanished
      }
    }
  };
  walk(dir);
  return total;
}

/**
 * Runs `argv` (no shell) and measures it: wall seconds, CPU seconds of the machine, of the
 * PostgreSQL server in `dataDir` and (with `s3Pid`) of the S3 server, and peak resident memory of
 * the process and of its descendants (and, with `watchDir`, the peak bytes under it) sampled every
 * 50 ms. Resolves when the process exits 0; rejects with its `::error::` lines (stdout) and the end
 * of its stderr otherwise.
 */
export function measureRun(argv, { env = {}, dataDir, s3Pid, watchDir } = {}) {
  return new Promise((resolve, reject) => {
    const cpuBefore = machineCpuSeconds();
    const serverBefore = serverCpuSeconds(dataDir);
    const s3Before = s3Pid ? processCpuSeconds(s3Pid) : 0;
    const started = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d).length > 65536 && (stderr = stderr.slice(-65536)));
    // The action reports its failure on stdout (`::error::`); keep those lines only.
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      for (const line of d.split('\n')) if (line.startsWith('::error::')) errors += `${line}\n`;
    });
    let peakMain = 0;
    let peakChildren = 0;
    let peakDisk = 0;
    const timer = setInterval(() => {
      peakMain = Math.max(peakMain, rssKb(child.pid));
      peakChildren = Math.max(
        peakChildren,
        descendants(child.pid).reduce((sum, pid) => sum + rssKb(pid), 0),
      );
      if (watchDir) peakDisk = Math.max(peakDisk, duBytes(watchDir));
    }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const result = {
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        cpuSeconds: machineCpuSeconds() - cpuBefore,
        serverCpu: serverCpuSeconds(dataDir) - serverBefore,
        s3CpuSeconds: s3Pid ? processCpuSeconds(s3Pid) - s3Before : 0,
        peakMainMb: peakMain / 1024,
        peakChildrenMb: peakChildren / 1024,
        peakDiskMb: peakDisk / 1e6,
      };
      if (code !== 0)
        reject(new Error(`${argv.slice(0, 3).join(' ')} exited ${code}: ${errors}${stderr.slice(-2000)}`));
      else resolve(result);
    });
  });
}
