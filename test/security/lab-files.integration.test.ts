/**
 * How the lab creates and reads its state files (files.ts), against what a local user could leave in their place:
 * symlinks, FIFOs, hard links, files and directories owned by another uid or writable by others, all under
 * umask 000. Needs root (files owned by other uids are made with chown): skipped otherwise.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendOwnFile, readOwnFile, rootDir, secureSocket, writeNewFile } from '../../src/targets/lab/files.js';
import { TargetError } from '../../src/targets/target.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('lab state files (needs root: chown to other uids)', () => {
  let dir: string;
  let secret: string;
  let oldUmask: number;
  const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

  beforeAll(() => {
    oldUmask = process.umask(0);
    dir = mkdtempSync(join(tmpdir(), 'mp-files-'));
    secret = join(dir, 'secret');
    writeFileSync(secret, 'root only', { mode: 0o600 });
  });
  afterAll(() => {
    process.umask(oldUmask);
    rmSync(dir, { recursive: true, force: true });
  });

  test('new files get exactly the mode asked for under umask 000, and never replace what is there', () => {
    writeNewFile(join(dir, 'a'), 'x');
    expect(mode(join(dir, 'a'))).toBe('600');
    writeNewFile(join(dir, 'b'), 'x', 0o644);
    expect(mode(join(dir, 'b'))).toBe('644');
    expect(() => writeNewFile(join(dir, 'a'), 'y')).toThrow(/EEXIST/);
    symlinkSync(secret, join(dir, 'link'));
    expect(() => writeNewFile(join(dir, 'link'), 'overwritten')).toThrow(/EEXIST/);
    expect(readFileSync(secret, 'utf8')).toBe('root only');
  });

  test("directories: created with the exact mode, a symlink or another owner's or a writable one refused", () => {
    rootDir(join(dir, 'd'), 0o700);
    expect(mode(join(dir, 'd'))).toBe('700');
    mkdirSync(join(dir, 'loose'), { mode: 0o755 });
    rootDir(join(dir, 'loose'), 0o711); // root's and not writable by others: adopted, mode set
    expect(mode(join(dir, 'loose'))).toBe('711');
    symlinkSync(join(dir, 'd'), join(dir, 'dlink'));
    expect(() => rootDir(join(dir, 'dlink'), 0o700)).toThrow(TargetError);
    mkdirSync(join(dir, 'users'));
    chownSync(join(dir, 'users'), 1000, 1000);
    expect(() => rootDir(join(dir, 'users'), 0o700)).toThrow(/owned by uid 1000/);
    mkdirSync(join(dir, 'open'), { mode: 0o777 });
    expect(() => rootDir(join(dir, 'open'), 0o700)).toThrow(/writable by group or others/);
  });

  test('read back only a regular root file with one link that nobody else may write', () => {
    writeNewFile(join(dir, 'log'), 'decision: allow\n');
    expect(readOwnFile(join(dir, 'log'))).toBe('decision: allow\n');
    symlinkSync(secret, join(dir, 'log-link'));
    expect(() => readOwnFile(join(dir, 'log-link'))).toThrow(/ELOOP/);
    writeFileSync(join(dir, 'users-log'), 'forged');
    chownSync(join(dir, 'users-log'), 1000, 1000);
    expect(() => readOwnFile(join(dir, 'users-log'))).toThrow(/owned by uid 1000/);
    writeFileSync(join(dir, 'open-log'), 'forged', { mode: 0o666 });
    expect(() => readOwnFile(join(dir, 'open-log'))).toThrow(/writable by group or others/);
    linkSync(secret, join(dir, 'hard'));
    expect(() => readOwnFile(join(dir, 'hard'))).toThrow(/not a regular file the lab wrote/);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readOwnFile(join(dir, 'fifo'))).toThrow(/not a regular file the lab wrote/); // and does not block
    expect(readOwnFile(join(dir, 'log'), 9)).toBe('n: allow\n'); // a long file: its tail
  });

  test('appending never goes through a symlink nor creates a file', () => {
    symlinkSync(secret, join(dir, 'runtime-link'));
    expect(appendOwnFile(join(dir, 'runtime-link'), 'x')).toBe(false);
    expect(appendOwnFile(join(dir, 'missing'), 'x')).toBe(false);
    expect(readFileSync(secret, 'utf8')).toBe('root only');
    writeNewFile(join(dir, 'runtime'), '');
    expect(appendOwnFile(join(dir, 'runtime'), 'line\n')).toBe(true);
    expect(readFileSync(join(dir, 'runtime'), 'utf8')).toBe('line\n');
  });

  test('a control socket becomes 0600 whatever the umask made it; a symlink in its place is refused', async () => {
    const sock = join(dir, 'control.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      expect(mode(sock)).toBe('777');
      secureSocket(sock);
      expect(mode(sock)).toBe('600');
      symlinkSync(sock, join(dir, 'sock-link'));
      expect(() => secureSocket(join(dir, 'sock-link'))).toThrow(TargetError);
      chmodSync(secret, 0o600);
      expect(() => secureSocket(secret)).toThrow(TargetError);
    } finally {
      server.close();
    }
  });
});
