// Preloaded with `node --import` by test/unit/start-up.test.ts: on exit, prints on stderr whether
// Node loaded its own copy of undici (the internal module behind fetch and http's WebSocket).
process.on('exit', () => {
  const loaded = process.moduleLoadList.some((name) => name.includes('internal/deps/undici/undici'));
  process.stderr.write(`\ninternal-undici:${loaded}\n`);
});
