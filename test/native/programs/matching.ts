// 3 ranks: tags and sources are kept apart, wildcards match, dup() channels do not mix.
// Sync part on COMM_WORLD, async part on a dup.
import { ANY_SOURCE, ANY_TAG } from '../../../native/index.js';
import { report, world } from './common.js';

const side = world.dup();
const msg = (s: string) => Buffer.from(s);
if (world.rank !== 0) {
  const r = world.rank;
  // each of ranks 1 and 2 sends tag 7 and tag 8 on world, and the same on side
  world.send(msg(`w${r}t7`), 0, 7);
  world.send(msg(`w${r}t8`), 0, 8);
  side.send(msg(`s${r}t7`), 0, 7);
  side.send(msg(`s${r}t8`), 0, 8);
  world.barrier();
} else {
  const got: string[] = [];
  const s = (m: { data: Buffer; source: number; tag: number }) => `${m.data.toString()}@${m.source}/${m.tag}`;
  // specific (source, tag) first, in an order that differs from the sending order
  got.push(s(world.recv(2, 8)));
  got.push(s(world.recv(1, 8)));
  // a source wildcard with a fixed tag
  const a = world.recv(ANY_SOURCE, 7);
  got.push(s(a));
  // the remaining tag-7 message must come from the other source
  got.push(s(world.recv(a.source === 1 ? 2 : 1, ANY_TAG)));
  const empty = world.iprobe(ANY_SOURCE, ANY_TAG) === undefined;
  // async on the dup: start all receives before any message is consumed, mixed wildcards
  const asyncGot = await Promise.all([side.recvAsync(1, 8), side.recvAsync(2, 7), side.recvAsync(ANY_SOURCE, 8), side.recvAsync(1, ANY_TAG)]).then((ms) =>
    ms.map(s),
  );
  world.barrier();
  report({ got, empty, asyncGot });
}
