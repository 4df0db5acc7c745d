// The wire protocol between the MPICommandClient (rank 0) and the
// MPICommandServers (every other rank), in one place: tags, message kinds,
// request ids, how values and errors travel.
//
// Every message is a byte buffer sent on the runtime's own (dup'ed)
// communicator. The tag says what it is; the first byte repeats the kind so a
// stray buffer is recognised. Hot messages (REQUEST, RESPONSE) have a fixed
// little-endian binary header and carry the command as UTF-8; values travel
// with a one-byte codec marker: primitives as JSON or raw UTF-8 (fastest for
// the common `1+1` case), everything else as V8 structured-clone bytes (Maps,
// Dates, typed arrays, undefined in objects survive). Control messages are
// rare and plain JSON.
//
// Totality, both ways (what keeps the client from waiting forever on a bad
// value):
// - Encoding a response never throws: `encodeResponseOrFailure` turns a value
//   that cannot be encoded, or a frame larger than the transport carries, into
//   a failed response whose error says what could not be sent. `encodeError`
//   turns anything thrown (even an object whose `message` has no string form,
//   or whose getters throw) into name/message/stack strings.
// - Every decoder returns a value or throws ProtocolError, never another
//   exception, and never allocates more than the frame's own size says. A
//   REQUEST whose header is readable but whose body is not throws a
//   ProtocolError carrying `requestId`, so the server can still answer it; a
//   RESPONSE whose header is readable always decodes (a bad body becomes a
//   failed response), so the request it answers still settles.
// - The heartbeat reply says which requests the server holds (the running one
//   and the queued ones) and whether its event loop runs (a tick counter);
//   the client ends a request its server no longer holds, while that loop
//   runs, as 'lost' after a grace period (client.ts). Layout under
//   "heartbeat" below.
import { format, inspect, types } from 'node:util';
import * as v8 from 'node:v8';
import { ProtocolError, ValueEncodingError } from './errors.js';

/** Tags on the runtime communicator. */
export const Tag = {
  CONTROL: 11,
  REQUEST: 12,
  RESPONSE: 13,
  LOG: 14,
  /** answered by the server's native receive thread, never by its JS */
  HEARTBEAT_REQUEST: 15,
  HEARTBEAT_REPLY: 16,
} as const;
export type Tag = (typeof Tag)[keyof typeof Tag];

/** The first byte of every message. */
export const Kind = {
  START: 1, // client -> server: start-up settings (JSON)
  STATUS: 2, // server -> client: host, pid, ready or error (JSON)
  STOP: 3, // client -> server: stop and finalize (JSON)
  STOPPED: 4, // server -> client: acknowledged, finalizing (JSON)
  REQUEST: 5,
  RESPONSE: 6,
  LOG: 7,
  BATCH: 8, // several REQUEST (or RESPONSE) frames in one message, with that message's tag
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** The client is always rank 0; server ids are their MPI ranks. */
export const CLIENT_RANK = 0;

/**
 * The largest message the MPI binding sends: its byte count is an MPI `int`
 * (2 GiB - 1). A frame larger than this is refused, never truncated.
 */
export const MAX_MESSAGE_BYTES = 0x7fffffff;

export type CommandMode = 'eval' | 'exec';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type LogMode = 'file' | 'per-server' | 'terminal';

// ---- control messages -------------------------------------------------------

export interface StartMessage {
  kind: typeof Kind.START;
  cwd: string;
  log: { mode: LogMode; level: LogLevel };
  /** module URLs whose exports become globals on every server */
  tasks: string[];
  env: Record<string, string>;
}
export interface StatusMessage {
  kind: typeof Kind.STATUS;
  host: string;
  pid: number;
  /** set when the server could not apply the start settings (e.g. a task module failed to import) */
  error?: WireError;
}
export interface StopMessage {
  kind: typeof Kind.STOP;
  reason: string;
}
export interface StoppedMessage {
  kind: typeof Kind.STOPPED;
  pid: number;
}
export type ControlMessage = StartMessage | StatusMessage | StopMessage | StoppedMessage;

export function encodeControl(msg: ControlMessage): Buffer {
  const body = Buffer.from(JSON.stringify(msg));
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = msg.kind;
  body.copy(out, 1);
  return out;
}

/** A control message; ProtocolError when the bytes are not one (bad JSON, kind mismatch, a field of the wrong type). */
export function decodeControl(data: Uint8Array): ControlMessage {
  const buf = asBuffer(data);
  if (buf.length < 1) throw new ProtocolError('empty control message');
  let msg: unknown;
  try {
    msg = JSON.parse(buf.toString('utf8', 1));
  } catch (e) {
    throw new ProtocolError(`control message body is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (msg === null || typeof msg !== 'object') throw new ProtocolError('control message body is not an object');
  const m = msg as Record<string, unknown>;
  if (m.kind !== buf[0]) throw new ProtocolError(`control message kind byte ${buf[0]} does not match body kind ${String(m.kind)}`);
  const str = (k: string) => typeof m[k] === 'string';
  const ok = (() => {
    switch (m.kind) {
      case Kind.START: {
        const log = m.log as Record<string, unknown> | null;
        return (
          str('cwd') &&
          Array.isArray(m.tasks) &&
          m.tasks.every((t) => typeof t === 'string') &&
          log !== null &&
          typeof log === 'object' &&
          typeof log.mode === 'string' &&
          typeof log.level === 'string' &&
          m.env !== null &&
          typeof m.env === 'object' &&
          Object.values(m.env).every((v) => typeof v === 'string')
        );
      }
      case Kind.STATUS:
        return str('host') && typeof m.pid === 'number' && (m.error === undefined || isWireError(m.error));
      case Kind.STOP:
        return str('reason');
      case Kind.STOPPED:
        return typeof m.pid === 'number';
      default:
        return false;
    }
  })();
  if (!ok) throw new ProtocolError(`control message of kind ${String(m.kind)} has missing or mistyped fields`);
  return msg as ControlMessage;
}

// ---- values -----------------------------------------------------------------
//
// A value is one codec byte and its bytes, chosen by encodeValue in this
// order (each decodes to what structured clone would give):
//   NUMBER    any number, f64 LE (NaN, -0 and Infinity included)
//   TRUE, FALSE, NULL, UNDEFINED   no bytes
//   STRING    a well-formed string, raw UTF-8
//   COMPACT   plain objects and arrays of the above (nested up to
//             COMPACT_DEPTH), no holes, no shared or circular references,
//             no key "__proto__": a tagged tree (layout below), a tenth of
//             V8's cost for the small objects parameters usually are
//   V8        anything else structured clone takes (Maps, Dates, typed
//             arrays, BigInt, ill-formed strings, shared references...)
//   INSPECTED what even that refuses: util.inspect's rendering, a string
// JSON (1) is what numbers, booleans and null were before; still decoded.
//
// COMPACT element: tag u8 | payload
//   0 undefined | 1 null | 2 true | 3 false | 4 f64 LE | 5 i32 LE
//   6 string: bytes u32 | UTF-8
//   7 array: count u32 | element x count
//   8 object: count u32 | (key bytes u32 | key UTF-8 | element) x count

const Codec = { UNDEFINED: 0, JSON: 1, STRING: 2, V8: 3, INSPECTED: 4, NUMBER: 5, TRUE: 6, FALSE: 7, NULL: 8, COMPACT: 9 } as const;
const El = { UNDEFINED: 0, NULL: 1, TRUE: 2, FALSE: 3, F64: 4, I32: 5, STRING: 6, ARRAY: 7, OBJECT: 8 } as const;
const COMPACT_DEPTH = 32;
/** String.prototype.isWellFormed (Node 20, not in the ES2022 lib compiled against): no lone surrogate, which UTF-8 cannot carry. */
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();
const ONE_BYTE = [Codec.UNDEFINED, Codec.TRUE, Codec.FALSE, Codec.NULL].map((c) => Buffer.from([c]));

/**
 * Encode a command's parameters or return value (codecs above). Throws
 * ValueEncodingError (saying what failed) only when even util.inspect's
 * rendering throws.
 */
export function encodeValue(value: unknown): Buffer {
  switch (typeof value) {
    case 'undefined':
      return Buffer.from(ONE_BYTE[0]);
    case 'number': {
      const out = Buffer.allocUnsafe(9);
      out[0] = Codec.NUMBER;
      out.writeDoubleLE(value, 1);
      return out;
    }
    case 'boolean':
      return Buffer.from(ONE_BYTE[value ? 1 : 2]);
    case 'string':
      if (wellFormed(value)) return withCodec(Codec.STRING, value);
      break;
    case 'object': {
      if (value === null) return Buffer.from(ONE_BYTE[3]);
      const compact = encodeCompact(value);
      if (compact) return compact;
      break;
    }
    case 'bigint':
    case 'symbol':
    case 'function':
      break; // structured clone below, or util.inspect
  }
  let cloneError: unknown;
  try {
    const bytes = v8.serialize(value);
    const out = Buffer.allocUnsafe(bytes.length + 1);
    out[0] = Codec.V8;
    bytes.copy(out, 1);
    return out;
  } catch (e) {
    cloneError = e;
  }
  try {
    return withCodec(Codec.INSPECTED, format('%O', value));
  } catch (e) {
    throw new ValueEncodingError(
      `a value of type ${describeType(value)} cannot be encoded: ` +
        `structured clone failed (${describeThrown(cloneError)}) and so did util.inspect (${describeThrown(e)})`,
      { cause: e },
    );
  }
}

/** A value; ProtocolError when the bytes are not one. */
export function decodeValue(data: Uint8Array, offset = 0): unknown {
  const buf = asBuffer(data);
  if (offset >= buf.length) throw new ProtocolError(`value missing: the frame ends at byte ${buf.length}`);
  const codec = buf[offset];
  try {
    switch (codec) {
      case Codec.UNDEFINED:
        return undefined;
      case Codec.TRUE:
        return true;
      case Codec.FALSE:
        return false;
      case Codec.NULL:
        return null;
      case Codec.NUMBER:
        if (buf.length - offset !== 9) throw new ProtocolError(`a number value is 8 bytes, not ${buf.length - offset - 1}`);
        return buf.readDoubleLE(offset + 1);
      case Codec.JSON:
        return JSON.parse(buf.toString('utf8', offset + 1));
      case Codec.STRING:
        return buf.toString('utf8', offset + 1);
      case Codec.COMPACT: {
        const r = { buf, at: offset + 1 };
        const v = readElement(r, 0);
        if (r.at !== buf.length) throw new ProtocolError(`a compact value ends at byte ${r.at} of ${buf.length}`);
        return v;
      }
      case Codec.V8:
        return v8.deserialize(buf.subarray(offset + 1));
      case Codec.INSPECTED:
        return buf.toString('utf8', offset + 1);
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`value with codec ${codec} does not decode: ${describeThrown(e)}`, { cause: e });
  }
  throw new ProtocolError(`unknown value codec ${codec}`);
}

function withCodec(codec: number, text: string): Buffer {
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  out[0] = codec;
  out.write(text, 1);
  return out;
}

/** A growing buffer for COMPACT values. */
class Writer {
  buf = Buffer.allocUnsafe(64);
  at = 0;
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }
  str(v: string): void {
    const n = Buffer.byteLength(v);
    this.u32(n);
    this.room(n);
    this.buf.write(v, this.at);
    this.at += n;
  }
}

/** COMPACT bytes for a plain object or array, or undefined when the value is not one (then V8 encodes it). */
function encodeCompact(value: object): Buffer | undefined {
  const w = new Writer();
  w.u8(Codec.COMPACT);
  // structured clone keeps shared and circular references: such values are left to it
  return writeElement(w, value, 0, new Set()) ? w.buf.subarray(0, w.at) : undefined;
}

function writeElement(w: Writer, v: unknown, depth: number, seen: Set<object>): boolean {
  switch (typeof v) {
    case 'undefined':
      w.u8(El.UNDEFINED);
      return true;
    case 'boolean':
      w.u8(v ? El.TRUE : El.FALSE);
      return true;
    case 'number':
      if ((v | 0) === v && !Object.is(v, -0)) {
        w.u8(El.I32);
        w.room(4);
        w.buf.writeInt32LE(v, w.at);
        w.at += 4;
        return true;
      }
      w.u8(El.F64);
      w.room(8);
      w.buf.writeDoubleLE(v, w.at);
      w.at += 8;
      return true;
    case 'string':
      if (!wellFormed(v)) return false;
      w.u8(El.STRING);
      w.str(v);
      return true;
    case 'object': {
      if (v === null) {
        w.u8(El.NULL);
        return true;
      }
      // a Proxy's traps are user code structured clone refuses; anything that is not a plain object or array goes to V8
      if (depth >= COMPACT_DEPTH || seen.has(v) || types.isProxy(v)) return false;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Array.prototype) {
        const a = v as unknown[];
        const n = a.length;
        if (Object.keys(a).length !== n) return false; // holes or extra properties
        seen.add(v);
        w.u8(El.ARRAY);
        w.u32(n);
        for (let i = 0; i < n; i++) if (!(i in a) || !writeElement(w, a[i], depth + 1, seen)) return false;
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      seen.add(v);
      w.u8(El.OBJECT);
      w.u32(keys.length);
      for (const k of keys) {
        if (k === '__proto__' || !wellFormed(k)) return false;
        w.str(k);
        if (!writeElement(w, o[k], depth + 1, seen)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** One COMPACT element; ProtocolError when the bytes are not one (never allocates more than the bytes left can hold). */
function readElement(r: { buf: Buffer; at: number }, depth: number): unknown {
  const { buf } = r;
  const need = (n: number, what: string) => {
    if (r.at + n > buf.length) throw new ProtocolError(`a compact value's ${what} needs ${n} bytes at byte ${r.at}; the frame has ${buf.length}`);
  };
  if (depth > COMPACT_DEPTH) throw new ProtocolError(`a compact value nests deeper than ${COMPACT_DEPTH}`);
  need(1, 'tag');
  const tag = buf[r.at++];
  switch (tag) {
    case El.UNDEFINED:
      return undefined;
    case El.NULL:
      return null;
    case El.TRUE:
      return true;
    case El.FALSE:
      return false;
    case El.F64:
      need(8, 'number');
      r.at += 8;
      return buf.readDoubleLE(r.at - 8);
    case El.I32:
      need(4, 'integer');
      r.at += 4;
      return buf.readInt32LE(r.at - 4);
    case El.STRING:
      return readString(r, need);
    case El.ARRAY: {
      need(4, 'count');
      const n = buf.readUInt32LE(r.at);
      r.at += 4;
      if (n > buf.length - r.at) throw new ProtocolError(`a compact array of ${n} elements in ${buf.length - r.at} bytes`);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readElement(r, depth + 1));
      return out;
    }
    case El.OBJECT: {
      need(4, 'count');
      const n = buf.readUInt32LE(r.at);
      r.at += 4;
      if (n > (buf.length - r.at) / 5) throw new ProtocolError(`a compact object of ${n} entries in ${buf.length - r.at} bytes`);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = readString(r, need);
        if (k === '__proto__') throw new ProtocolError('a compact object with the key "__proto__"');
        out[k] = readElement(r, depth + 1);
      }
      return out;
    }
    default:
      throw new ProtocolError(`unknown compact element tag ${tag} at byte ${r.at - 1}`);
  }
}

function readString(r: { buf: Buffer; at: number }, need: (n: number, what: string) => void): string {
  need(4, 'string length');
  const n = r.buf.readUInt32LE(r.at);
  r.at += 4;
  need(n, 'string');
  r.at += n;
  return r.buf.toString('utf8', r.at - n, r.at);
}

// ---- errors -----------------------------------------------------------------

/** How an error travels: name, message and the JS stack as a string. */
export interface WireError {
  name: string;
  message: string;
  stack: string;
}

function isWireError(v: unknown): v is WireError {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string';
}

/**
 * Whatever was thrown, as strings. Never throws: every property read and
 * every conversion is guarded, and what could not be read is named.
 */
export function encodeError(err: unknown): WireError {
  const hasMessage = attempt(() => err !== null && typeof err === 'object' && 'message' in err);
  if (hasMessage.ok && hasMessage.value) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    const nameRead = attempt(() => e.name);
    const name = nameRead.ok && typeof nameRead.value === 'string' ? nameRead.value : 'Error';
    const messageRead = attempt(() => e.message);
    let message: string;
    if (!messageRead.ok) message = `<reading the error's message threw ${describeThrown(messageRead.error)}>`;
    else if (typeof messageRead.value === 'string') message = messageRead.value;
    else {
      const asString = attempt(() => String(messageRead.value));
      message = asString.ok
        ? asString.value
        : `<the error's message (${describeType(messageRead.value)}) has no string form: ${describeThrown(asString.error)}; ` +
          `shown: ${safeInspect(messageRead.value)}>`;
    }
    const stackRead = attempt(() => e.stack);
    const stack = stackRead.ok && typeof stackRead.value === 'string' && stackRead.value.length > 0 ? stackRead.value : `${name}: ${message}`;
    return { name, message, stack };
  }
  // a thrown non-Error value (throw 42, throw 'x', Promise.reject({}))
  const shown = safeInspect(err);
  return { name: 'NonErrorThrown', message: `a non-Error value was thrown: ${shown}`, stack: `Uncaught ${shown}` };
}

// ---- command requests and responses -------------------------------------------

export interface RequestMessage {
  id: number;
  command: string;
  mode: CommandMode;
  /** the command is `name()` and parameters were given: call name(parameters) */
  callWithParameters: boolean;
  hasParameters: boolean;
  parameters: Record<string, unknown> | undefined;
  /** 0 = no limit */
  timeoutMs: number;
}

/**
 * The call form: a command that is just `name()` (or `a.b.name()`). Sent with
 * parameters, it calls name(parameters) instead of setting them as globals
 * (flag F_CALL below). Group 1 is the callee.
 */
export const CALL_FORM = /^\s*([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\(\s*\)\s*;?\s*$/;

// REQUEST layout: kind u8 | flags u8 | pad u16 | id u32 | timeoutMs u32 | commandBytes u32 | command | [value]
const REQ_HEADER = 16;
const F_EVAL = 1;
const F_PARAMS = 2;
const F_CALL = 4;

export function encodeRequest(req: RequestMessage, encodedParameters?: Buffer): Buffer {
  const cmdLen = Buffer.byteLength(req.command);
  const params = req.hasParameters ? (encodedParameters ?? encodeValue(req.parameters)) : undefined;
  const out = Buffer.allocUnsafe(REQ_HEADER + cmdLen + (params?.length ?? 0));
  out[0] = Kind.REQUEST;
  out[1] = (req.mode === 'eval' ? F_EVAL : 0) | (params ? F_PARAMS : 0) | (req.callWithParameters ? F_CALL : 0);
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(req.id, 4);
  out.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.ceil(req.timeoutMs))), 8);
  out.writeUInt32LE(cmdLen, 12);
  out.write(req.command, REQ_HEADER);
  if (params) params.copy(out, REQ_HEADER + cmdLen);
  return out;
}

/** The frame's size for a request, without building it (the client checks it against the transport's limit at push). */
export function requestFrameBytes(command: string, encodedParameters: Buffer | undefined): number {
  return REQ_HEADER + Buffer.byteLength(command) + (encodedParameters?.length ?? 0);
}

export function decodeRequest(data: Uint8Array): RequestMessage {
  const buf = asBuffer(data);
  if (buf.length < 1 || buf[0] !== Kind.REQUEST) throw new ProtocolError(`expected a REQUEST, got ${buf.length < 1 ? 'an empty frame' : `kind ${buf[0]}`}`);
  if (buf.length < REQ_HEADER) throw new ProtocolError(`REQUEST frame of ${buf.length} bytes is shorter than its ${REQ_HEADER}-byte header`);
  const id = buf.readUInt32LE(4);
  const flags = buf[1];
  const cmdLen = buf.readUInt32LE(12);
  if (REQ_HEADER + cmdLen > buf.length)
    throw new ProtocolError(`REQUEST ${id}: the command is said to be ${cmdLen} bytes but the frame has ${buf.length - REQ_HEADER}`, { requestId: id });
  const hasParameters = (flags & F_PARAMS) !== 0;
  let parameters: Record<string, unknown> | undefined;
  if (hasParameters) {
    let v: unknown;
    try {
      v = decodeValue(buf, REQ_HEADER + cmdLen);
    } catch (e) {
      throw new ProtocolError(`REQUEST ${id}: its parameters do not decode: ${(e as Error).message}`, { cause: e, requestId: id });
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError(`REQUEST ${id}: its parameters are not an object`, { requestId: id });
    parameters = v as Record<string, unknown>;
  }
  return {
    id,
    timeoutMs: buf.readUInt32LE(8),
    command: buf.toString('utf8', REQ_HEADER, REQ_HEADER + cmdLen),
    mode: flags & F_EVAL ? 'eval' : 'exec',
    callWithParameters: (flags & F_CALL) !== 0,
    hasParameters,
    parameters,
  };
}

export interface ResponseMessage {
  id: number;
  successful: boolean;
  /** the command's value (eval mode), undefined otherwise */
  ret: unknown;
  error: WireError | undefined;
  /** epoch milliseconds with sub-millisecond fraction, server clock */
  startTime: number;
  stopTime: number;
}

// RESPONSE layout: kind u8 | flags u8 | pad u16 | id u32 | start f64 | stop f64 | value-or-error
const RESP_HEADER = 24;
const F_OK = 1;

/** The response frame; throws ValueEncodingError when `ret` cannot be encoded (see encodeResponseOrFailure). */
export function encodeResponse(res: ResponseMessage): Buffer {
  const body = res.successful ? encodeValue(res.ret) : Buffer.from(JSON.stringify(res.error));
  const out = Buffer.allocUnsafe(RESP_HEADER + body.length);
  out[0] = Kind.RESPONSE;
  out[1] = res.successful ? F_OK : 0;
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(res.id >>> 0, 4);
  out.writeDoubleLE(res.startTime, 8);
  out.writeDoubleLE(res.stopTime, 16);
  body.copy(out, RESP_HEADER);
  return out;
}

/**
 * The response frame, always: when the value cannot be encoded, or the frame
 * would be larger than `maxBytes` (what the transport sends), a failed
 * response for the same request whose error says what could not be sent.
 * Never throws.
 */
export function encodeResponseOrFailure(res: ResponseMessage, maxBytes = MAX_MESSAGE_BYTES): Buffer {
  let frame: Buffer | undefined;
  let failure: WireError | undefined;
  try {
    frame = encodeResponse(res);
  } catch (e) {
    const why = e instanceof ValueEncodingError ? e.message : `encoding it threw ${describeThrown(e)}`;
    failure = { name: 'ValueEncodingError', message: `the command's ${res.successful ? 'value' : 'error'} could not be sent: ${why}`, stack: '' };
  }
  if (frame && frame.length > maxBytes) {
    failure = {
      name: 'MessageTooLargeError',
      message:
        `the command's value could not be sent: it encodes to ${frame.length} bytes and a message carries at most ${maxBytes} ` +
        "(the MPI binding's int count); return a smaller value or write it to a file",
      stack: '',
    };
  }
  if (!failure) return frame!;
  failure.stack = `${failure.name}: ${failure.message}`;
  return encodeResponse({ id: res.id, successful: false, ret: undefined, error: failure, startTime: res.startTime, stopTime: res.stopTime });
}

/**
 * A response. ProtocolError only when the header cannot be read (too short,
 * wrong kind); a readable header with a body that does not decode is a
 * failed response for that id, so the request still settles.
 */
export function decodeResponse(data: Uint8Array): ResponseMessage {
  const buf = asBuffer(data);
  if (buf.length < 1 || buf[0] !== Kind.RESPONSE) throw new ProtocolError(`expected a RESPONSE, got ${buf.length < 1 ? 'an empty frame' : `kind ${buf[0]}`}`);
  if (buf.length < RESP_HEADER) throw new ProtocolError(`RESPONSE frame of ${buf.length} bytes is shorter than its ${RESP_HEADER}-byte header`);
  const id = buf.readUInt32LE(4);
  const startTime = buf.readDoubleLE(8);
  const stopTime = buf.readDoubleLE(16);
  const failed = (e: unknown): ResponseMessage => ({ id, successful: false, ret: undefined, error: encodeError(e), startTime, stopTime });
  if ((buf[1] & F_OK) !== 0) {
    try {
      return { id, successful: true, ret: decodeValue(buf, RESP_HEADER), error: undefined, startTime, stopTime };
    } catch (e) {
      return failed(e);
    }
  }
  let error: unknown;
  try {
    error = JSON.parse(buf.toString('utf8', RESP_HEADER));
  } catch (e) {
    return failed(new ProtocolError(`RESPONSE ${id}: the error body is not JSON: ${(e as Error).message}`));
  }
  if (!isWireError(error)) return failed(new ProtocolError(`RESPONSE ${id}: the error body is not {name, message, stack}`));
  return { id, successful: false, ret: undefined, error: { name: error.name, message: error.message, stack: error.stack }, startTime, stopTime };
}

// ---- batches ------------------------------------------------------------------

// BATCH layout: kind u8 | pad u8[3] | count u32 | (frameBytes u32 | frame) x count
// Sent with the tag of the frames it carries (REQUEST or RESPONSE), which are
// complete frames of that kind, in order: the receiver handles them one by
// one exactly as if each had come alone. The client batches the requests it
// sends one server in one go (pipelining, client.ts/scheduler.ts); a single
// frame always travels alone.
const BATCH_HEADER = 8;

export function encodeBatch(frames: readonly Buffer[]): Buffer {
  let size = BATCH_HEADER;
  for (const f of frames) size += 4 + f.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = Kind.BATCH;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32LE(frames.length, 4);
  let at = BATCH_HEADER;
  for (const f of frames) {
    out.writeUInt32LE(f.length, at);
    f.copy(out, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** The frame size of a batch, without building it. */
export function batchFrameBytes(frameBytes: readonly number[]): number {
  return frameBytes.reduce((sum, n) => sum + 4 + n, BATCH_HEADER);
}

export function isBatch(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === Kind.BATCH;
}

/** The frames of a batch (views into it); ProtocolError when its counts and lengths do not add up to the message. */
export function decodeBatch(data: Uint8Array): Buffer[] {
  const buf = asBuffer(data);
  if (buf.length < BATCH_HEADER || buf[0] !== Kind.BATCH)
    throw new ProtocolError(`expected a BATCH, got ${buf.length < 1 ? 'an empty frame' : `kind ${buf[0]} of ${buf.length} bytes`}`);
  const count = buf.readUInt32LE(4);
  // every frame takes at least its 4-byte length: a count the message cannot hold is refused before anything is allocated
  if (count > (buf.length - BATCH_HEADER) / 4) throw new ProtocolError(`BATCH of ${buf.length} bytes cannot hold ${count} frames`);
  const frames: Buffer[] = [];
  let at = BATCH_HEADER;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw new ProtocolError(`BATCH frame ${i} of ${count}: the message ends at byte ${buf.length}`);
    const n = buf.readUInt32LE(at);
    if (at + 4 + n > buf.length) throw new ProtocolError(`BATCH frame ${i} of ${count} is said to be ${n} bytes; the message has ${buf.length - at - 4} left`);
    frames.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  if (at !== buf.length) throw new ProtocolError(`BATCH of ${count} frames ends at byte ${at} of ${buf.length}`);
  return frames;
}

// ---- log lines ----------------------------------------------------------------

const LEVELS: LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

// LOG layout: kind u8 | level u8 | text
export function encodeLog(level: LogLevel, text: string): Buffer {
  const out = Buffer.allocUnsafe(2 + Buffer.byteLength(text));
  out[0] = Kind.LOG;
  out[1] = Math.max(0, LEVELS.indexOf(level));
  out.write(text, 2);
  return out;
}

export function decodeLog(data: Uint8Array): { level: LogLevel; text: string } {
  const buf = asBuffer(data);
  if (buf.length < 2 || buf[0] !== Kind.LOG)
    throw new ProtocolError(`expected a LOG line, got ${buf.length < 2 ? `a ${buf.length}-byte frame` : `kind ${buf[0]}`}`);
  return { level: LEVELS[buf[1]] ?? 'INFO', text: buf.toString('utf8', 2) };
}

// ---- heartbeat ----------------------------------------------------------------

/** What the server holds, as its heartbeat reply says. */
export interface Heartbeat {
  /** a command is running */
  busy: boolean;
  /** the running request's id (0 when idle) */
  requestId: number;
  /**
   * the server's JS liveness counter: advanced by a timer on the server's
   * event loop (HEARTBEAT_TICK_MS). It stands still while that loop is
   * blocked, when a request may be waiting unseen behind it.
   */
  tick: number;
  /** ids of the requests received and waiting behind it, oldest first (at most HEARTBEAT_QUEUE_IDS of them) */
  queued: number[];
  /** how many are waiting in all (more than `queued.length` when the list was cut) */
  queuedCount: number;
}

/** The most queued ids a heartbeat lists. */
export const HEARTBEAT_QUEUE_IDS = 64;
/** How often the server's event loop advances the heartbeat's tick. */
export const HEARTBEAT_TICK_MS = 100;

// HEARTBEAT_REPLY layout (answered by the server's native thread from the
// payload its JS keeps current):
//   busy u8 | pad u8[3] | running request id u32 | tick u32 | queued count u32 | queued ids u32 x min(count, 64)
export function encodeHeartbeat(busy: boolean, requestId: number, queued: readonly number[] = [], tick = 0): Buffer {
  const out = Buffer.alloc(16 + 4 * Math.min(queued.length, HEARTBEAT_QUEUE_IDS));
  writeHeartbeat(out, busy, requestId, queued, tick);
  return out;
}

/** The largest HEARTBEAT_REPLY payload. */
export const HEARTBEAT_MAX_BYTES = 16 + 4 * HEARTBEAT_QUEUE_IDS;

/** encodeHeartbeat into `out` (large enough: HEARTBEAT_MAX_BYTES always is; a server reuses one buffer); returns the bytes written. */
export function writeHeartbeat(out: Buffer, busy: boolean, requestId: number, queued: readonly number[], tick: number): number {
  const listed = Math.min(queued.length, HEARTBEAT_QUEUE_IDS);
  out[0] = busy ? 1 : 0;
  out[1] = out[2] = out[3] = 0;
  out.writeUInt32LE(requestId >>> 0, 4);
  out.writeUInt32LE(tick >>> 0, 8);
  out.writeUInt32LE(queued.length >>> 0, 12);
  for (let i = 0; i < listed; i++) out.writeUInt32LE(queued[i] >>> 0, 16 + 4 * i);
  return 16 + 4 * listed;
}

export function decodeHeartbeat(data: Uint8Array): Heartbeat {
  const buf = asBuffer(data);
  if (buf.length < 16) throw new ProtocolError(`heartbeat reply of ${buf.length} bytes (expected 16 or more)`);
  const queuedCount = buf.readUInt32LE(12);
  const listed = Math.min(queuedCount, HEARTBEAT_QUEUE_IDS);
  if (buf.length !== 16 + 4 * listed) throw new ProtocolError(`heartbeat reply of ${buf.length} bytes does not match its ${queuedCount} queued ids`);
  const queued: number[] = [];
  for (let i = 0; i < listed; i++) queued.push(buf.readUInt32LE(16 + 4 * i));
  return { busy: buf[0] === 1, requestId: buf.readUInt32LE(4), tick: buf.readUInt32LE(8), queued, queuedCount };
}

/** An empty heartbeat request (the content is ignored by the native thread). */
export const HEARTBEAT_PING = Buffer.from([0]);

// ---- helpers ----------------------------------------------------------------

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };
function attempt<T>(f: () => T): Attempt<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object' && typeof v !== 'function') return typeof v;
  const proto = attempt(() => Object.getPrototypeOf(v) as unknown);
  if (!proto.ok) return `${typeof v} (its prototype cannot be read)`;
  if (proto.value === null) return `${typeof v} with a null prototype`;
  const ctor = attempt(() => (proto.value as { constructor?: { name?: unknown } }).constructor?.name);
  return ctor.ok && typeof ctor.value === 'string' && ctor.value ? ctor.value : typeof v;
}

/** "Name: message" of something thrown, never throwing itself. */
export function describeThrown(e: unknown): string {
  const w = attempt(() => {
    // isNativeError: errors made in a command's vm context are not `instanceof Error` here
    if (types.isNativeError(e) || e instanceof Error)
      return `${typeof e.name === 'string' ? e.name : 'Error'}: ${typeof e.message === 'string' ? e.message : '?'}`;
    return undefined;
  });
  if (w.ok && w.value !== undefined) return w.value;
  return `a thrown ${describeType(e)}: ${safeInspect(e)}`;
}

function safeInspect(v: unknown): string {
  const r = attempt(() => inspect(v, { depth: 2, breakLength: Infinity, maxStringLength: 2000, customInspect: true }));
  if (r.ok) return r.value;
  const plain = attempt(() => inspect(v, { depth: 2, breakLength: Infinity, maxStringLength: 2000, customInspect: false, getters: false }));
  return plain.ok ? plain.value : `<a ${describeType(v)} that util.inspect cannot render>`;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
