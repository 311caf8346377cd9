import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { gatewayUrl } from '../../../client/urls';

const bucket = Principal.fromText('lqy7q-dh777-77777-aaaaq-cai');

describe('gatewayUrl', () => {
    it('names the bucket under an IC gateway domain, icp0.io by default', () => {
        expect(gatewayUrl(bucket, '/a/7/cat.png')).toBe('https://lqy7q-dh777-77777-aaaaq-cai.icp0.io/a/7/cat.png');
        for (const domain of ['icp.net', 'raw.icp0.io', 'raw.icp.net']) {
            expect(gatewayUrl(bucket, '/a/7/cat.png', { domain })).toBe(`https://lqy7q-dh777-77777-aaaaq-cai.${domain}/a/7/cat.png`);
        }
    });

    it('points at the local gateway by the bucket\'s .localhost name on the local network', () => {
        expect(gatewayUrl(bucket, '/a/7/x', { network: 'local' })).toBe('http://lqy7q-dh777-77777-aaaaq-cai.localhost:4943/a/7/x');
        expect(gatewayUrl(bucket, '/a/7/x', { network: 'local', gateway: 'http://127.0.0.1:8080/' })).toBe('http://lqy7q-dh777-77777-aaaaq-cai.localhost:8080/a/7/x');
    });

    it('adds ?download, after a token when there is one', () => {
        expect(gatewayUrl(bucket, '/a/7/x', { download: true })).toMatch(/\/a\/7\/x\?download$/);
        expect(gatewayUrl(bucket, '/a/7/x?token=1.ab', { download: true })).toMatch(/\/a\/7\/x\?token=1\.ab&download$/);
    });
});
