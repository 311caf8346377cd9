/**
 * What the web app's bundle reaches from web/src/main.ts, resolved as bundlers do (package.json's
 * "browser" field swaps client/node_io.ts for node_io.browser.ts; type-only imports are erased): no Node
 * built-in, no replica, no Node-only client module.
 */
module.exports = {
    forbidden: [
        {
            name: 'browser-bundle-has-no-node-builtins',
            severity: 'error',
            from: {},
            to: { dependencyTypes: ['core'] }
        },
        {
            name: 'browser-bundle-has-no-node-only-modules',
            severity: 'error',
            from: {},
            to: { path: '^(replica/|client/(embedded|start|cli|deploy|identity|node_io)\\.ts$|client/cli/)' }
        }
    ],
    options: {
        tsPreCompilationDeps: false,
        tsConfig: { fileName: 'tsconfig.json' },
        doNotFollow: { path: 'node_modules' },
        enhancedResolveOptions: { aliasFields: ['browser'], conditionNames: ['browser', 'import', 'default'] }
    }
};
