/**
 * Import rules, checked by `npm test` before anything is built (`npm run deps`). Dependency direction:
 * web → client → replica → shared; canisters → shared. See also .dependency-cruiser.browser.cjs (what the
 * web app's bundle reaches).
 */
module.exports = {
    forbidden: [
        {
            name: 'no-cycle-in-canisters-or-client',
            comment: 'Inside a canister and the client library, imports flow one way (state at the bottom, logic, endpoints on top), type-only imports included.',
            severity: 'error',
            from: { path: '^(canisters|client|web/src)/' },
            to: { circular: true }
        },
        {
            name: 'no-runtime-cycle-in-replica',
            comment:
                "No cycle of runtime imports inside the replica. Its classes name each other's types (a Canister's Replica, an Execution's Meter): type-only imports, erased at compile time, may close a loop.",
            severity: 'error',
            from: { path: '^replica/' },
            to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } }
        },
        {
            name: 'shared-is-the-bottom',
            comment: 'shared/ (Candid types, SHA-256, constants) is used by canisters, replica and client; it imports none of them.',
            severity: 'error',
            from: { path: '^shared/' },
            to: { path: '^(canisters|client|replica|web|scripts|tests|bench)/' }
        },
        {
            name: 'replica-imports-no-client',
            comment: 'The replica knows nothing of Silo: no client, canister or web code.',
            severity: 'error',
            from: { path: '^replica/' },
            to: { path: '^(client|canisters|web)/' }
        },
        {
            name: 'client-reaches-replica-only-where-it-embeds-it',
            comment:
                'Only the Node-only entry points that embed the replica import it at run time: the embedded network, silo start, and the CLI (state-directory errors). Type-only imports (transport.ts) are erased.',
            severity: 'error',
            from: { path: '^client/', pathNot: '^client/(embedded|start|cli)\\.ts$|^client/cli/connect\\.ts$' },
            to: { path: '^replica/', dependencyTypesNot: ['type-only'] }
        },
        {
            name: 'web-uses-the-browser-entry-point',
            comment: 'The web app imports the library through client/browser.ts only, never the Node-only parts.',
            severity: 'error',
            from: { path: '^web/src/' },
            to: { path: '^(client/(?!browser\\.ts$)|replica/|canisters/)' }
        },
        {
            name: 'canisters-import-only-shared',
            comment: 'A canister is built from its own folder and shared/.',
            severity: 'error',
            from: { path: '^canisters/([^/]+)/' },
            to: { path: '^(client|replica|web)/' }
        }
    ],
    options: {
        tsPreCompilationDeps: true,
        tsConfig: { fileName: 'tsconfig.json' },
        doNotFollow: { path: 'node_modules' },
        exclude: { path: '^(node_modules|\\.azle|\\.build|web/dist)/|/\\.azle/' }
    }
};
