// Resident memory and CPU time of a stack's processes, from /proc (Linux only): the descendants
// of a root pid, sampled every ~100 ms while a load runs. The process list is refreshed every
// second; VmRSS is read at every tick; CPU time (utime + stime) is read at start and stop, with
// the machine's busy time, so that CPU taken by unrelated processes (noise) can be reported.

import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux builds in practice). */
const USER_HZ = 100;

function readProc(pid, file) {
  try {
    return readFileSync(pid === "" ? `/proc/${file}` : `/proc/${pid}/${file}`, "utf8");
  } catch {
    return null; // exited meanwhile
  }
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]; comm may hold spaces. */
function parseStat(stat) {
  const close = stat.lastIndexOf(")");
  return { comm: stat.slice(stat.indexOf("(") + 1, close), rest: stat.slice(close + 2).split(" ") };
}

/** Every live descendant of `root` as { pid, comm }. */
export function descendants(root) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(name, "stat");
    if (!stat) continue;
    const { comm, rest } = parseStat(stat);
    const ppid = Number(rest[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push({ pid: Number(name), comm });
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** VmRSS of a process in bytes (0 when it is gone), and its anonymous and file-backed parts. */
export function memOf(pid) {
  const status = readProc(pid, "status") ?? "";
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") + kb("RssShmem") };
}

export const rssOf = (pid) => memOf(pid).rss;

/** User + system CPU seconds a process has used so far (0 when it is gone). */
export function cpuOf(pid) {
  const stat = readProc(pid, "stat");
  if (!stat) return 0;
  const { rest } = parseStat(stat);
  // rest[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(rest[11]) + Number(rest[12])) / USER_HZ;
}

/** CPU seconds the whole machine has spent busy so far (all CPUs, from /proc/stat). */
export function machineBusySeconds() {
  const line = (readProc("", "stat") ?? "").split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return 0;
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait is busy.
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) / USER_HZ;
}

/**
 * What a workerd process of `wrangler dev` does: the one listening on the public port is
 * wrangler's proxy in front of the Worker; the other runs the Worker (and its Durable Objects).
 */
function roleOf(pid, comm, publicPort) {
  if (comm !== "workerd") return comm;
  const cmd = (readProc(pid, "cmdline") ?? "").split("\0").join(" ");
  return publicPort && cmd.includes(`entry=127.0.0.1:${publicPort} `) ? "workerd (proxy)" : "workerd (worker)";
}

/**
 * Samples `root`'s descendants every `intervalMs`. Returns { stop() → summary }: for processes
 * whose name matches `match` (default workerd), the sum of RSS at the first sample (idle), its
 * peak and its last value, a once-a-second timeline of that sum, and each process's peak; for
 * every descendant, the CPU seconds used between start and stop.
 */
export function sampleRss(root, { intervalMs = 100, match = /^workerd$/, publicPort } = {}) {
  const t0 = Date.now();
  let procs = [];
  let lastScan = -Infinity;
  const perPid = new Map();
  const timeline = [];
  let first = null;
  let peakSum = 0;
  let lastSum = 0;
  let samples = 0;
  const cpuStart = new Map();
  const cpuStartSelf = process.cpuUsage();
  const machineStart = machineBusySeconds();
  const track = (p) => {
    if (perPid.has(p.pid)) return;
    perPid.set(p.pid, { pid: p.pid, comm: p.comm, role: roleOf(p.pid, p.comm, publicPort), peakRss: 0, anonAtPeak: 0, fileAtPeak: 0, cpuSeconds: 0 });
    cpuStart.set(p.pid, cpuOf(p.pid));
  };
  const tick = () => {
    const now = Date.now();
    if (now - lastScan >= 1000) {
      const all = descendants(root);
      for (const p of all) track(p);
      procs = all.filter((p) => match.test(p.comm));
      lastScan = now;
    }
    let sum = 0;
    for (const p of procs) {
      const m = memOf(p.pid);
      sum += m.rss;
      const rec = perPid.get(p.pid);
      if (m.rss > rec.peakRss) Object.assign(rec, { peakRss: m.rss, anonAtPeak: m.anon, fileAtPeak: m.file });
    }
    first ??= sum;
    peakSum = Math.max(peakSum, sum);
    lastSum = sum;
    if (timeline.length === 0 || now - t0 >= timeline.length * 1000) timeline.push([Math.round((now - t0) / 100) / 10, sum]);
    samples++;
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      for (const rec of perPid.values()) rec.cpuSeconds = Math.max(0, cpuOf(rec.pid) - cpuStart.get(rec.pid));
      const self = process.cpuUsage(cpuStartSelf);
      const machine = machineBusySeconds() - machineStart;
      const processes = [...perPid.values()];
      const cpuBy = (re) => processes.filter((p) => re.test(p.role)).reduce((n, p) => n + p.cpuSeconds, 0);
      const ours = processes.reduce((n, p) => n + p.cpuSeconds, 0) + (self.user + self.system) / 1e6;
      return {
        processes,
        idleRss: first,
        peakRss: peakSum,
        lastRss: lastSum,
        timeline,
        samples,
        seconds: (Date.now() - t0) / 1000,
        cpu: {
          workerdWorker: cpuBy(/^workerd \(worker\)$/),
          workerdProxy: cpuBy(/^workerd \(proxy\)$/),
          node: cpuBy(/^node/),
          benchClient: (self.user + self.system) / 1e6,
          /** Busy CPU time of the whole machine, and of everything but this stack and this client. */
          machine,
          others: Math.max(0, machine - ours),
        },
      };
    },
  };
}
