/**
 * The two shapes the library reads from and writes to, at the bottom of the client's imports: the
 * sources (source.ts) and the platform's file I/O (node_io.ts, or its browser stand-in) both use them.
 */

/** Something to upload, read a piece at a time. */
export interface UploadSource {
    /** Total size in bytes. */
    readonly size: number;
    /** Reads exactly `length` bytes at `offset` (fewer only at the end). */
    read(offset: number, length: number): Promise<Uint8Array>;
    /** Releases what the source holds (open files, spooled copies). */
    close(): Promise<void>;
    /** A name to record when none is given (a file's base name). */
    readonly name?: string;
}

/** Where `SiloClient.download` writes, in order, as bytes arrive (the caller closes it). */
export interface DownloadSink {
    write(bytes: Uint8Array): Promise<void>;
}
