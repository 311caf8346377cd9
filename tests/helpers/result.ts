/** The value of an `Ok` result; throws, naming the error variant, on `Err`. */
import type { Result } from '../../shared/types';

export function unwrap<T>(result: Result<T>): T {
    if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
    return result.Ok;
}
