// Toolchain versions recorded in the manifest: the first line each tool prints.
import { execFile } from 'node:child_process';

function firstLine(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((r) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err && !stdout) return r(null);
      r((stdout || stderr).split('\n')[0].trim() || null);
    });
  });
}

export async function toolchainVersions(): Promise<Record<string, string | null>> {
  const [gcc, gxx, gfortran, make, ld, glibc] = await Promise.all([
    firstLine('gcc', ['--version']),
    firstLine('g++', ['--version']),
    firstLine('gfortran', ['--version']),
    firstLine('make', ['--version']),
    firstLine('ld', ['--version']),
    firstLine('ldd', ['--version']),
  ]);
  return { gcc, 'g++': gxx, gfortran, make, ld, glibc, node: process.version };
}
