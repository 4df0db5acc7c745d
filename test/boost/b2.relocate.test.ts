// b2 has no DESTDIR: the CMake configs written under the staging prefix must
// name the final prefix after the install phase, exactly as a direct install.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relocateCMakeConfigs } from '../../recipes/builders/b2.js';

test('staging path rewritten in lib/cmake/**/*.cmake only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-b2-relocate-'));
  try {
    const finalPrefix = '/opt/stack';
    const staged = join(root, 'stage', 'opt', 'stack');
    const cmakeDir = join(staged, 'lib', 'cmake', 'boost_mpi-1.81.0');
    mkdirSync(cmakeDir, { recursive: true });
    // the shape boost_install writes (boost-install.jam, install-cmake-config-)
    const config = `if(EXISTS "${staged}/lib/cmake")\n  get_filename_component(_BOOST_CMAKEDIR_ORIGINAL "${staged}/lib/cmake" REALPATH)\n  set(_BOOST_CMAKEDIR "${staged}/lib/cmake")\nendif()\n`;
    writeFileSync(join(cmakeDir, 'boost_mpi-config.cmake'), config);
    writeFileSync(join(cmakeDir, 'boost_mpi-config-version.cmake'), 'set(PACKAGE_VERSION 1.81.0)\n');
    writeFileSync(join(staged, 'lib', 'cmake', 'notes.txt'), staged);
    const changed = await relocateCMakeConfigs(staged, staged, finalPrefix);
    assert.equal(changed, [join(cmakeDir, 'boost_mpi-config.cmake')]);
    const text = readFileSync(join(cmakeDir, 'boost_mpi-config.cmake'), 'utf8');
    assert.not.ok(text.includes(root), text);
    assert.is(text.split('/opt/stack/lib/cmake').length - 1, 3);
    assert.is(readFileSync(join(staged, 'lib', 'cmake', 'notes.txt'), 'utf8'), staged, 'non-cmake files untouched');
    assert.equal(await relocateCMakeConfigs(staged, staged, finalPrefix), [], 'idempotent');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no lib/cmake (1.41.0 installs none): nothing to do', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-b2-relocate-'));
  try {
    assert.equal(await relocateCMakeConfigs(root, root, '/opt/stack'), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
