// Rank 1 of the MPMD job with big-sender.c as rank 0: a message of 2 GiB or
// more is refused by recv (RangeError) and by recvAsync (MessageTooLargeError),
// never delivered truncated; the message after it arrives intact.
import { MessageTooLargeError } from '../../../native/index.js';
import { report, world } from './common.js';

const outcome = (e: unknown) => ({ name: (e as Error)?.name, isRange: e instanceof RangeError, message: (e as Error)?.message });
const checks: Record<string, unknown> = {};
try {
  const m = world.recv(0, 8);
  checks.recv = { delivered: m.count };
} catch (e) {
  checks.recv = outcome(e);
}
try {
  const m = await world.recvAsync(0, 9);
  checks.recvAsync = { delivered: m.count };
} catch (e) {
  checks.recvAsync = { ...outcome(e), typed: e instanceof MessageTooLargeError };
}
const after = await world.recvAsync(0, 10);
checks.after = after.data.toString();
report({ checks });
