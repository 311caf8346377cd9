/** The client names the errors of issue 9's limits after their variants, with what to do. */
import { describe, expect, it } from 'vitest';

import { FinishAttemptsExhaustedError, fromVariant, LimitExceededError, RateLimitedError } from '../../../client/errors';

describe('limit errors', () => {
    it('maps LimitExceeded, RateLimited and FinishAttemptsExhausted to named errors that keep their fields', () => {
        const limit = fromVariant({ LimitExceeded: { what: 'open upload sessions', limit: 64n, requested: 65n } });
        expect(limit).toBeInstanceOf(LimitExceededError);
        expect(limit).toMatchObject({ what: 'open upload sessions', limit: 64n, requested: 65n });
        expect(limit.message).toMatch(/open upload sessions is limited to 64/);
        const rate = fromVariant({ RateLimited: { what: 'creating a new bucket', retry_at: 1_700_000_000_000_000_000n } });
        expect(rate).toBeInstanceOf(RateLimitedError);
        expect(rate.message).toContain('2023-11-14T22:13:20.000Z');
        const exhausted = fromVariant({ FinishAttemptsExhausted: { session_id: 7n, attempts: 5 } });
        expect(exhausted).toBeInstanceOf(FinishAttemptsExhaustedError);
        expect(exhausted.message).toMatch(/session 7 failed verification 5 times/);
    });
});
