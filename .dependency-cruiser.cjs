/**
 * dependency-cruiser: the house's import rules (docs/architecture.md). Every import points down the
 * data path; imports inside one folder are free. Layers, top to bottom:
 *   entry (index, main, run, run/, host, cli, files-tap) > commands > config > report > backup | restore | retention | files > manifest >
 *   postgres | crypto | storage > pipeline > vocabulary (log, format, errors, redact, version)
 */
const layers = [
  ['entry', '^src/((index|main|cli|files-tap|run|host)\\.ts$|cli/|run/)'],
  ['commands', '^src/commands/'],
  ['config', '^src/config/'],
  ['report', '^src/report/'],
  ['library', '^src/(backup|restore|retention|files)/'],
  ['manifest', '^src/manifest\\.ts$'],
  ['io', '^src/(postgres|crypto|storage)/'],
  ['pipeline', '^src/pipeline/'],
  ['vocabulary', '^src/(log|format|errors|redact|version)\\.ts$'],
];

/** One rule per layer: it may not import any layer above it. */
const upward = layers.slice(1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} imports only from its own layer or the layers below it`,
  severity: 'error',
  from: { path },
  to: {
    path: layers
      .slice(0, i + 1)
      .map(([, p]) => `(${p})`)
      .join('|'),
  },
}));

/** Peers in one layer do not import each other (backup, restore, retention, files; postgres, crypto, storage). */
const peers = (name, folders) => ({
  name: `no-peer-imports-${name}`,
  comment: `${folders.join(', ')} are peers: none imports another`,
  severity: 'error',
  from: { path: `^src/(${folders.join('|')})/` },
  to: { path: `^src/(${folders.join('|')})/`, pathNot: '^src/$1/' },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import cycles hide the data path',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'vocabulary-is-a-leaf',
      severity: 'error',
      from: { path: layers[8][1] },
      to: { path: '^src/(?!(log|format|errors|redact|version)\\.ts$)' },
    },
    ...upward,
    {
      name: 'files-below-manifest',
      comment: 'files/ (the files archive) knows no manifest: commands record what it returns',
      severity: 'error',
      from: { path: '^src/files/' },
      to: { path: layers[5][1] },
    },
    peers('library', ['backup', 'restore', 'retention', 'files']),
    peers('io', ['postgres', 'crypto', 'storage']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
