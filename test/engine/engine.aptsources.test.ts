// The private deb-src list is derived from the system's apt sources: deb822
// stanzas and one-line entries become deb-src, everything else is kept, and
// apt is pointed only at the private directory.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { aptOptions, debSrcFromDeb822, debSrcFromList, systemDebSrc } from '../../scripts/engine/apt.js';

const DEB822 = `Types: deb
URIs: file:///srv/repo/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/repo.gpg

# disabled one
Types: deb
URIs: file:///srv/other
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: file:///srv/src-only
Suites: bookworm
Components: main
`;

test('deb822: deb stanzas become deb-src with their other fields; disabled and deb-src-only stanzas dropped', () => {
  const out = debSrcFromDeb822(DEB822);
  assert.is(
    out,
    'Types: deb-src\nURIs: file:///srv/repo/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/repo.gpg\n',
  );
});

test('one-line lists: deb lines become deb-src with options kept; comments dropped', () => {
  assert.is(
    debSrcFromList('# c\ndeb [arch=amd64] file:///srv/r bookworm main\ndeb-src file:///srv/s bookworm main\n'),
    'deb-src [arch=amd64] file:///srv/r bookworm main\n',
  );
});

test('systemDebSrc reads sources.list.d/*.sources, *.list and sources.list from the given etc dir', () => {
  const etc = mkdtempSync(join(tmpdir(), 'mpistack-apt-'));
  mkdirSync(join(etc, 'sources.list.d'));
  writeFileSync(join(etc, 'sources.list.d', 'a.sources'), DEB822);
  writeFileSync(join(etc, 'sources.list.d', 'b.list'), 'deb file:///srv/b bookworm main\n');
  writeFileSync(join(etc, 'sources.list'), 'deb file:///srv/c bookworm main\n');
  const s = systemDebSrc(etc);
  assert.match(s.deb822, /^Types: deb-src\nURIs: file:\/\/\/srv\/repo\/debian/);
  assert.is(s.list, 'deb-src file:///srv/b bookworm main\ndeb-src file:///srv/c bookworm main\n');
});

test('apt options: no system source list, private parts/lists/cache', () => {
  const o = aptOptions('/x/apt');
  assert.ok(o.includes('Dir::Etc::SourceList=/dev/null'));
  assert.ok(o.includes('Dir::Etc::SourceParts=/x/apt/parts'));
  assert.ok(o.includes('Dir::State::Lists=/x/apt/lists'));
});

test.run();
