/** Small helpers to print the benchmark report: aligned tables and number formats. */
export type Log = (line: string) => void;

export function table(log: Log, header: string[], rows: (string | number)[][]): void {
    const cells = [header, ...rows.map((r) => r.map(String))];
    const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
    const line = (r: string[]) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    log(line(header));
    log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of cells.slice(1)) log(line(r));
}

/** 1234567 → "1_234_567" (the IC's and Azle's way of writing instruction counts). */
export function n(value: number | bigint): string {
    const s = typeof value === 'bigint' ? value.toString() : Math.round(value).toString();
    return s.replace(/\B(?=(\d{3})+(?!\d))/g, '_');
}

/** Billions with one decimal: 12_345_678_901 → "12.3 B". */
export function billions(value: number | bigint): string {
    return `${(Number(value) / 1e9).toFixed(2)} B`;
}

export function pct(ratio: number): string {
    return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(2)}%`;
}

export function ms(value: number): string {
    return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
}
