/** How the index words a failed call or an unexpected throw in the records and errors it keeps (task errors, bucket reports). */

/** A caught error as one string: an Error's message, anything else as JSON (bigints as decimal strings). */
export function describeError(error: unknown): string {
    if (error instanceof Error) return error.message;
    return JSON.stringify(error, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}
