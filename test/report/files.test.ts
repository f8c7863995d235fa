/** Output file helpers on the real file system: path resolution, directory creation, link-safe writing. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { link, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputFiles, makeDirs, resolveReal, writeOutputFile } from '../../src/report/files.js';
import { checkReports, ReportWriteError, writeReports } from '../../src/report/index.js';
import { mixedRun } from './fixture.js';

describe('output files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'mp-files-')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolveReal reads ".." after a symlink as the kernel does, and follows links to files not yet written', async () => {
    await mkdir(join(dir, 'deep', 'inner'), { recursive: true });
    await symlink(join(dir, 'deep', 'inner'), join(dir, 'in'));
    expect(await resolveReal(`${dir}/in/../f`)).toBe(join(dir, 'deep', 'f'));
    await symlink('deep/later.json', join(dir, 'dangling'));
    expect(await resolveReal(join(dir, 'dangling'))).toBe(join(dir, 'deep', 'later.json'));
    await symlink('loop-b', join(dir, 'loop-a'));
    await symlink('loop-a', join(dir, 'loop-b'));
    await expect(resolveReal(join(dir, 'loop-a'))).rejects.toThrow('too many levels');
  });

  it("makeDirs gives up at once where Node's recursive mkdir spins (/proc/x)", async () => {
    await expect(makeDirs('/proc/x/y')).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(join(dir, 'file'), '');
    await expect(makeDirs(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await makeDirs(join(dir, 'a', 'b', 'c'));
    await makeDirs(join(dir, 'a', 'b', 'c'));
  });

  it('writeOutputFile follows no link and truncates no hard-linked file', async () => {
    await writeFile(join(dir, 'victim'), 'unchanged');
    await symlink(join(dir, 'victim'), join(dir, 'sym'));
    await expect(writeOutputFile(join(dir, 'sym'), 'x')).rejects.toMatchObject({ code: 'ELOOP' });
    await link(join(dir, 'victim'), join(dir, 'hard'));
    await expect(writeOutputFile(join(dir, 'hard'), 'x')).rejects.toThrow('hard links');
    expect(await readFile(join(dir, 'victim'), 'utf8')).toBe('unchanged');
    await writeOutputFile(join(dir, 'plain'), 'first, longer');
    await writeOutputFile(join(dir, 'plain'), 'second');
    expect(await readFile(join(dir, 'plain'), 'utf8')).toBe('second');
  });

  it('checkOutputFiles: two names of one file are refused, a link planted in the report directory too', async () => {
    const r = await checkOutputFiles([
      { label: '--json', path: join(dir, 'same') },
      { label: '--junit', path: `${dir}/in/../../same` },
    ]);
    expect(r.problems[1]).toContain('is the same file as --json');
    await mkdir(join(dir, 'reports'));
    await symlink(join(dir, 'victim'), join(dir, 'reports', 'report.json'));
    expect(await checkReports({ dir: join(dir, 'reports') })).toEqual([
      `--report-dir ${join(dir, 'reports', 'report.json')}: is a symbolic link; meshprobe does not write through links it did not get named`,
    ]);
  });

  it('writeReports writes every report it can and names the ones it could not', async () => {
    const out = join(dir, 'partial');
    await mkdir(join(out, 'junit.xml'), { recursive: true }); // a directory where a report should go
    const err = await writeReports(await mixedRun(), { dir: out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReportWriteError);
    expect((err as ReportWriteError).written).toEqual([join(out, 'report.json'), join(out, 'report.html')]);
    expect((err as ReportWriteError).failed).toEqual([{ path: join(out, 'junit.xml'), reason: 'exists and is not a regular file' }]);
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).formatVersion).toBe(1);
  });
});
