// ROMIO's configure flags are compiled into mca_io_romio*.so and carry
// -I<build dir>/... paths: the recipe maps the build directory in that one
// #define, the way the compiler shims map it in debug info.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configureArgs, mapRomioFlags } from '../../recipes/openmpi.js';

const BUILD = '/cache/build/openmpi-4.1.4-dab1db6d';
const HEADER = [
  '/* opal_config.h */',
  `#define OPAL_CONFIGURE_CLI " \\'--prefix=/opt/x\\'"`,
  `#define MCA_io_romio321_COMPLETE_CONFIGURE_FLAGS " FROM_OMPI=yes CC='gcc' CPPFLAGS='-I${BUILD}/src/openmpi-4.1.4/opal/mca/event/libevent2022/libevent -I${BUILD}/src/openmpi-4.1.4/opal/mca/hwloc/hwloc201/hwloc/include' --prefix=/opt/x"`,
  `#define SOMETHING_ELSE "${BUILD}/untouched"`,
  '',
].join('\n');

test('the ROMIO define names /usr/src/mpistack instead of the build directory; nothing else changes', () => {
  const { text, changed } = mapRomioFlags(HEADER, BUILD);
  assert.is(changed, 1);
  const lines = text.split('\n');
  const romio = lines.find((l) => l.startsWith('#define MCA_io_romio321_COMPLETE_CONFIGURE_FLAGS'))!;
  assert.not.ok(romio.includes(BUILD));
  assert.ok(romio.includes('-I/usr/src/mpistack/src/openmpi-4.1.4/opal/mca/event/libevent2022/libevent -I/usr/src/mpistack/src/openmpi-4.1.4/opal/mca/hwloc'));
  assert.ok(romio.includes('--prefix=/opt/x'), 'the prefix is an input, kept');
  assert.equal(
    lines.filter((l) => !l.startsWith('#define MCA_io_romio')),
    HEADER.split('\n').filter((l) => !l.startsWith('#define MCA_io_romio')),
  );
});

test('other ROMIO generations (romio341 of 5.0) too; a header without the define is left alone', () => {
  assert.is(mapRomioFlags(`#define MCA_io_romio341_COMPLETE_CONFIGURE_FLAGS "CPPFLAGS='-I${BUILD}/x'"`, BUILD).changed, 1);
  assert.equal(mapRomioFlags('#define X 1\n', BUILD), { text: '#define X 1\n', changed: 0 });
  // a trailing slash on the build directory does not matter
  assert.is(
    mapRomioFlags(`#define MCA_io_romio321_COMPLETE_CONFIGURE_FLAGS "-I${BUILD}/y"`, `${BUILD}/`).text,
    '#define MCA_io_romio321_COMPLETE_CONFIGURE_FLAGS "-I/usr/src/mpistack/y"',
  );
});

test('the package string is fixed (the default names the building user and host)', () => {
  for (const v of ['1.6.5', '4.1.4', '5.0.10']) assert.ok(configureArgs(v).includes('--with-package-string=Open MPI (mpistack)'), v);
});

test.run();
