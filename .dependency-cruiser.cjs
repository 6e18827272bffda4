/** Layers point down only: see ARCHITECTURE.md. */
module.exports = {
  forbidden: [
    {
      name: 'protocol-is-pure',
      comment: 'protocol/ is the sans-IO core: it may not reach into transports, sim, native, conformance or cli.',
      severity: 'error',
      from: { path: '^protocol/' },
      to: { path: '^(transports|sim|native|conformance|cli)/' },
    },
    {
      name: 'protocol-no-io',
      comment: 'protocol/ does no I/O: no sockets, files, timers or child processes from node built-ins.',
      severity: 'error',
      from: { path: '^protocol/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(net|dgram|fs|fs/promises|child_process|timers|timers/promises|http|https|tls)$' },
    },
    {
      name: 'transports-below-sim',
      comment: 'transports/ implement the Datamover over a Verbs provider; they never import a provider.',
      severity: 'error',
      from: { path: '^transports/' },
      to: { path: '^(sim|native|conformance|cli)/' },
    },
    {
      name: 'sim-native-independent',
      comment: 'sim/ and native/ are peers behind transports/verbs.ts.',
      severity: 'error',
      from: { path: '^(sim|native)/' },
      to: { path: '^(conformance|cli)/' },
    },
    {
      name: 'backends-server-not-below',
      comment: 'server/, nbd/ and config/ build on the layers below; nothing below them imports them.',
      severity: 'error',
      from: { path: '^(protocol|transports|sim|native|backends)/' },
      to: { path: '^(server|nbd|config)/' },
    },
    {
      name: 'no-circular',
      comment: 'Runtime import cycles. A cycle closed only by `import type` erases at compile time and is allowed.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
