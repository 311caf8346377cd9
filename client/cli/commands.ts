/**
 * The table of `silo` commands. A new command is one file exporting a {@link Command} and one entry here;
 * help, option parsing and error handling come from the table.
 */
import { info, ls, reencrypt, rm, share, shared, unshare } from './assets';
import type { Command } from './command';
import { buckets, deploy, stats } from './deployment';
import { download } from './download';
import { start } from './start';
import { upload } from './upload';
import { url } from './url';

export const COMMANDS: Command[] = [upload, download, ls, info, rm, share, unshare, shared, reencrypt, url, buckets, stats, deploy, start];
