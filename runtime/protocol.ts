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
import { format } from 'node:util';
import * as v8 from 'node:v8';

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
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** The client is always rank 0; server ids are their MPI ranks. */
export const CLIENT_RANK = 0;

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
export interface StopMessage { kind: typeof Kind.STOP; reason: string }
export interface StoppedMessage { kind: typeof Kind.STOPPED; pid: number }
export type ControlMessage = StartMessage | StatusMessage | StopMessage | StoppedMessage;

export function encodeControl(msg: ControlMessage): Buffer {
  const body = Buffer.from(JSON.stringify(msg));
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = msg.kind;
  body.copy(out, 1);
  return out;
}

export function decodeControl(data: Uint8Array): ControlMessage {
  const buf = asBuffer(data);
  const msg = JSON.parse(buf.toString('utf8', 1)) as ControlMessage;
  if (msg.kind !== buf[0]) throw new ProtocolError(`control message kind byte ${buf[0]} does not match body kind ${msg.kind}`);
  return msg;
}

// ---- values -----------------------------------------------------------------

const Codec = { UNDEFINED: 0, JSON: 1, STRING: 2, V8: 3, INSPECTED: 4 } as const;

/** Encode a command's parameters or return value. */
export function encodeValue(value: unknown): Buffer {
  switch (typeof value) {
    case 'undefined':
      return Buffer.from([Codec.UNDEFINED]);
    case 'string': {
      const out = Buffer.allocUnsafe(1 + Buffer.byteLength(value));
      out[0] = Codec.STRING;
      out.write(value, 1);
      return out;
    }
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return withCodec(Codec.JSON, String(value));
      break;
    case 'boolean':
      return withCodec(Codec.JSON, value ? 'true' : 'false');
    default:
      if (value === null) return withCodec(Codec.JSON, 'null');
  }
  try {
    const bytes = v8.serialize(value);
    const out = Buffer.allocUnsafe(bytes.length + 1);
    out[0] = Codec.V8;
    bytes.copy(out, 1);
    return out;
  } catch {
    // functions, symbols, class instances with private state: send a readable rendering
    return withCodec(Codec.INSPECTED, format('%O', value));
  }
}

export function decodeValue(data: Uint8Array, offset = 0): unknown {
  const buf = asBuffer(data);
  switch (buf[offset]) {
    case Codec.UNDEFINED: return undefined;
    case Codec.JSON: return JSON.parse(buf.toString('utf8', offset + 1));
    case Codec.STRING: return buf.toString('utf8', offset + 1);
    case Codec.V8: return v8.deserialize(buf.subarray(offset + 1));
    case Codec.INSPECTED: return buf.toString('utf8', offset + 1);
    default: throw new ProtocolError(`unknown value codec ${buf[offset]}`);
  }
}

function withCodec(codec: number, text: string): Buffer {
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  out[0] = codec;
  out.write(text, 1);
  return out;
}

// ---- errors -----------------------------------------------------------------

/** How an error travels: name, message and the JS stack as a string. */
export interface WireError { name: string; message: string; stack: string }

export function encodeError(err: unknown): WireError {
  if (err !== null && typeof err === 'object' && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const message = String(e.message);
    const stack = typeof e.stack === 'string' && e.stack.length > 0 ? e.stack : `${name}: ${message}`;
    return { name, message, stack };
  }
  // a thrown non-Error value (throw 42, throw 'x', Promise.reject({}))
  const shown = format('%O', err);
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

export function decodeRequest(data: Uint8Array): RequestMessage {
  const buf = asBuffer(data);
  if (buf[0] !== Kind.REQUEST) throw new ProtocolError(`expected a REQUEST, got kind ${buf[0]}`);
  const flags = buf[1];
  const cmdLen = buf.readUInt32LE(12);
  const hasParameters = (flags & F_PARAMS) !== 0;
  return {
    id: buf.readUInt32LE(4),
    timeoutMs: buf.readUInt32LE(8),
    command: buf.toString('utf8', REQ_HEADER, REQ_HEADER + cmdLen),
    mode: flags & F_EVAL ? 'eval' : 'exec',
    callWithParameters: (flags & F_CALL) !== 0,
    hasParameters,
    parameters: hasParameters ? (decodeValue(buf, REQ_HEADER + cmdLen) as Record<string, unknown>) : undefined,
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

export function encodeResponse(res: ResponseMessage): Buffer {
  const body = res.successful ? encodeValue(res.ret) : Buffer.from(JSON.stringify(res.error));
  const out = Buffer.allocUnsafe(RESP_HEADER + body.length);
  out[0] = Kind.RESPONSE;
  out[1] = res.successful ? F_OK : 0;
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(res.id, 4);
  out.writeDoubleLE(res.startTime, 8);
  out.writeDoubleLE(res.stopTime, 16);
  body.copy(out, RESP_HEADER);
  return out;
}

export function decodeResponse(data: Uint8Array): ResponseMessage {
  const buf = asBuffer(data);
  if (buf[0] !== Kind.RESPONSE) throw new ProtocolError(`expected a RESPONSE, got kind ${buf[0]}`);
  const successful = (buf[1] & F_OK) !== 0;
  let ret: unknown;
  let error: WireError | undefined;
  if (successful) {
    try { ret = decodeValue(buf, RESP_HEADER); } catch (e) {
      return { id: buf.readUInt32LE(4), successful: false, ret: undefined, error: encodeError(e), startTime: buf.readDoubleLE(8), stopTime: buf.readDoubleLE(16) };
    }
  } else error = JSON.parse(buf.toString('utf8', RESP_HEADER)) as WireError;
  return { id: buf.readUInt32LE(4), successful, ret, error, startTime: buf.readDoubleLE(8), stopTime: buf.readDoubleLE(16) };
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
  return { level: LEVELS[buf[1]] ?? 'INFO', text: buf.toString('utf8', 2) };
}

// ---- heartbeat ----------------------------------------------------------------

/** What the native thread answers with: busy u8 | pad u8[3] | current request id u32. */
export function encodeHeartbeat(busy: boolean, requestId: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = busy ? 1 : 0;
  out.writeUInt32LE(requestId >>> 0, 4);
  return out;
}

export function decodeHeartbeat(data: Uint8Array): { busy: boolean; requestId: number } {
  const buf = asBuffer(data);
  if (buf.length < 8) return { busy: false, requestId: 0 };
  return { busy: buf[0] === 1, requestId: buf.readUInt32LE(4) };
}

/** An empty heartbeat request (the content is ignored by the native thread). */
export const HEARTBEAT_PING = Buffer.from([0]);

// ---- helpers ----------------------------------------------------------------

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
