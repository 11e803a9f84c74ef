// Bundles each service's TypeScript (its own code and the @concord/* workspaces it imports) into
// one CommonJS file for production images; third-party packages stay external and come from
// `npm ci --omit=dev`. A bundle starts faster than tsx, which transpiles every file at each start.
//   node docker/bundle.cjs          (needs esbuild: the image's build stage installs it)
// Output: <service>/dist/bundle/main.js, two levels below the workspace so that paths the code
// computes from __dirname (api/src/db/migrate.ts: '../../migrations') still land on api/migrations.
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const workspaces = ['protocol', 'registry', 'service-shell', 'sfu', 'signaling', 'api'];
const services = ['api', 'signaling', 'sfu'];

/** @concord/x → x/src/index.ts (or a deep path inside it); every other bare import stays external. */
const workspaceResolver = {
  name: 'concord-workspaces',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const match = /^@concord\/([^/]+)(\/.*)?$/.exec(args.path);
      if (!match || !workspaces.includes(match[1])) return { path: args.path, external: true };
      const target = match[2] ? path.join(root, match[1], match[2]) : path.join(root, match[1], 'src/index.ts');
      return build.resolve(target.startsWith('/') ? target : `./${target}`, { kind: args.kind, resolveDir: root });
    });
  },
};

Promise.all(
  services.map((service) =>
    esbuild.build({
      entryPoints: [path.join(root, service, 'src/main.ts')],
      outfile: path.join(root, service, 'dist/bundle/main.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      plugins: [workspaceResolver],
      logLevel: 'warning',
    }),
  ),
).then(
  () => console.log(`[bundle] ${services.map((s) => `${s}/dist/bundle/main.js`).join(', ')}`),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
