/**
 * `@dfinity/agent` warns on the console, with the error and its stack, when a `read_state` path it asked
 * for is refused (`CanisterStatus`, and the subnet keys it fetches to verify query signatures). Specs
 * that provoke such refusals on purpose install this, so the test output shows only unexpected warnings.
 */
export function quietExpectedAgentWarnings(): () => void {
    const warn = console.warn;
    let swallowError = false;
    console.warn = (...args: unknown[]) => {
        // The agent writes its sentence, then (in a console group) the error itself.
        if (typeof args[0] === 'string' && args[0].startsWith('Expected to find result for path')) {
            swallowError = true;
            return;
        }
        if (swallowError && args.length === 1 && args[0] instanceof Error) {
            swallowError = false;
            return;
        }
        swallowError = false;
        warn.apply(console, args);
    };
    return () => {
        console.warn = warn;
    };
}
