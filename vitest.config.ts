import { defineConfig } from 'vitest/config';

export default defineConfig({
    test: {
        include: ['tests/**/*.test.ts', 'shared/**/*.test.ts', 'replica/**/*.test.ts', 'client/**/*.test.ts', 'canisters/**/*.test.ts'],
        testTimeout: 120_000,
        hookTimeout: 120_000,
        pool: 'forks',
        maxWorkers: 2
    }
});
