// The libmpi check reads ldd output: the prefix's libmpi passes, Debian's
// system Open MPI or an unresolved libmpi is caught.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { libmpiProblem } from '../../recipes/boost.js';
import { parseLdd } from '../../recipes/kit/index.js';

const good = `	linux-vdso.so.1 (0x00007ffd1b5f2000)
	libboost_serialization.so.1.81.0 => /opt/stack/lib/libboost_serialization.so.1.81.0 (0x00007febb9a09000)
	libmpi.so.40 => /opt/stack/lib/libmpi.so.40 (0x00007febb98ce000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0e8d000000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f0e8d5e0000)
`;

test('resolved paths by soname', () => {
  const m = parseLdd(good);
  assert.is(m.get('libmpi.so.40'), '/opt/stack/lib/libmpi.so.40');
  assert.is(m.get('libboost_serialization.so.1.81.0'), '/opt/stack/lib/libboost_serialization.so.1.81.0');
  assert.not.ok(m.has('linux-vdso.so.1'));
});

test('system MPI and unresolved libraries are visible as such', () => {
  const m = parseLdd('\tlibmpi.so.40 => /usr/lib/x86_64-linux-gnu/libmpi.so.40 (0x00007f)\n\tlibboost_serialization.so.1.81.0 => not found\n');
  assert.is(m.get('libmpi.so.40'), '/usr/lib/x86_64-linux-gnu/libmpi.so.40');
  assert.is(m.get('libboost_serialization.so.1.81.0'), 'not found');
});

test("only the prefix's own libmpi passes", () => {
  assert.is(libmpiProblem(parseLdd(good), '/opt/stack'), null);
  assert.match(
    libmpiProblem(parseLdd(good.replace('/opt/stack/lib/libmpi', '/usr/lib/x86_64-linux-gnu/libmpi')), '/opt/stack')!,
    /x86_64-linux-gnu\/libmpi.so.40'/,
  );
  assert.match(libmpiProblem(parseLdd('\tlibmpi.so.40 => not found\n'), '/opt/stack')!, /'not found'/);
  assert.match(libmpiProblem(parseLdd('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n'), '/opt/stack')!, /'not linked'/);
  // a sibling directory whose name starts with the prefix is not the prefix
  assert.ok(libmpiProblem(parseLdd('\tlibmpi.so.40 => /opt/stack2/lib/libmpi.so.40 (0x1)\n'), '/opt/stack'));
});

test.run();
