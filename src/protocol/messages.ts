// The master⇄worker protocol: every message both sides may send, as one zod schema each, and the
// functions that validate inbound frames. Both sides import this file and nothing else of each other.
//
// Transport. One WebSocket per worker, opened by the worker on ws://MASTER/ws/worker. Every
// message is one JSON text frame `{ type, seq, ... }`, except command output, which is one
// binary frame: a 4-byte big-endian length, that many bytes of JSON header `{ type:
// 'command.output', seq, commandId, chunks: [{ stream, bytes }] }`, then the chunks' bytes
// back to back, exactly as the command wrote them. Output never goes through a string or JSON
// escaping on either side, which is most of the cost of a big log. Frames larger than
// MAX_FRAME_BYTES are refused by the socket itself.
//
// Version handshake. The worker's first frame is `hello` (protocol version, name, secret, info,
// maxBuilds). The master answers `welcome` (its version and the heartbeat interval) or `refused`
// (why) and then closes. Nothing else is valid before `welcome`; a worker whose version the
// master does not speak is refused with KEEL_ERR_WORKER_AUTH, never half-served.
//
// Sequencing and correlation. Each side numbers its frames 1, 2, 3 … in `seq`. A frame that answers
// another names it in `re` (welcome/refused → hello, error → the bad frame). Commands are
// correlated by `commandId`, chosen by the master, unique per connection.
//
// Heartbeat. Each side sends `heartbeat` every `heartbeatMs` (from welcome). A side that hears
// nothing at all from its peer for 3 × heartbeatMs considers the connection dead and closes it:
// the master then ends the worker's builds in RETRY and requeues their requests; the worker
// kills its running commands (nobody is left to report to) and reconnects with backoff.
//
// Commands and cancellation. `command.start` runs one process (its own process group) on the
// worker. For every `command.start` the worker sends exactly one `command.finished`, whatever
// happens: exit, spawn failure, no-output timeout, maxTime, or `command.interrupt`. On timeout,
// maxTime or interrupt the worker sends SIGTERM to the whole group, then SIGKILL after
// `killGraceMs`; `reason` in command.finished says which. Interrupting an unknown or finished
// command is a no-op (the two messages may cross on the wire).
//
// Output and back-pressure. The worker sends output in `command.output` batches: whole lines
// as log chunks it has cut and compressed itself (stored by the master as they are, a batch's
// chunks in one transaction; up to a quarter of OUTPUT_WINDOW_BYTES of compressed bytes per
// batch), the rest (an over-long line, the unfinished last line of a command) as printed, at
// most OUTPUT_BATCH_BYTES per batch; output waits at most OUTPUT_BATCH_MS on the worker, plus,
// when it is busy, one ack and OUTPUT_BATCH_INTERVAL_MS after the previous batch. The master
// answers every batch with `output.ack { commandId, bytes }` once the batch is stored, `bytes`
// being the bytes the batch carried (compressed chunks and raw pieces as sent: what either side
// holds of it). The worker keeps at most OUTPUT_WINDOW_BYTES
// unacknowledged or waiting for compression per command and stops reading the command's pipes
// until acks arrive, so neither side's memory grows with the size of a log.
//
// Report files. A `command.start` may name `reports`: globs relative to its workdir. After the
// command has ended and its last output is sent, and before `command.finished`, the worker sends
// one `command.report` per matching regular file: its path relative to the workdir and its bytes
// in base64, or `skipped` saying why it was not sent (larger than REPORT_MAX_BYTES, past
// REPORT_MAX_FILES, outside the workdir through `..`, an absolute glob or a symbolic link). The
// master takes reports only for a command still running.
//
// Errors. An inbound frame that is not JSON (or a well-formed output frame), not a known type or
// has wrong fields is refused:
// the receiver logs it and answers `error` (KEEL_ERR_PROTOCOL) naming `re` when it had one; it
// never throws. A master closes a connection that sends a malformed frame before `welcome`.
import { z } from 'zod';

// 2: output travels as compressed log chunks cut by the worker (1 sent raw bytes); 3: acks count
// the bytes sent, not the output they stand for. A worker and a master of different versions
// refuse each other at the handshake, not at the first frame.
export const PROTOCOL_VERSION = 3;
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const OUTPUT_BATCH_BYTES = 128 * 1024;
export const OUTPUT_BATCH_MS = 50;
/**
 * Least time between two output batches of one command, unless a quarter window is waiting: at
 * full speed a batch per ack was 60-90 frames, transactions and acks per 100 MB of `yes`, half
 * the master's CPU in bench (b); at most 20 ms more for a live log line.
 */
export const OUTPUT_BATCH_INTERVAL_MS = 20;
/**
 * Per command, bytes sent and not acknowledged plus output waiting for compression: four raw
 * chunks (CHUNK_TARGET_BYTES), or compressed ones of many more on the wire or being stored.
 */
export const OUTPUT_WINDOW_BYTES = 4 * 1024 * 1024;
/** Largest report file sent; its base64 stays well inside MAX_FRAME_BYTES. */
export const REPORT_MAX_BYTES = 2 * 1024 * 1024;
/** Most report files one command sends. */
export const REPORT_MAX_FILES = 50;

const seq = z.number().int().nonnegative();
const commandId = z.string().min(1).max(200);

export const workerInfoSchema = z.object({
  hostname: z.string(),
  os: z.string(),
  arch: z.string(),
  node: z.string(),
  cpus: z.number().int().nonnegative(),
  keel: z.string(),
}).passthrough();

// ---- worker → master ----------------------------------------------------------------------

export const helloSchema = z.object({
  type: z.literal('hello'), seq,
  protocol: z.number().int().positive(),
  name: z.string().min(1).max(200),
  secret: z.string(),
  info: workerInfoSchema,
  /** The worker's own limit (keel worker --max-builds); absent: the master's config decides. */
  maxBuilds: z.number().int().positive().optional(),
}).strict();

export const streamSchema = z.enum(['o', 'e', 'h']);

/** A run-length list of the streams of a chunk's lines, e.g. "o650e2o10". */
const STREAM_RUNS = /^(?:[oeh][1-9]\d*)+$/;

/** The JSON header of a binary output frame; `bytes` are the lengths of the payload's pieces. */
export const outputHeaderSchema = z.object({
  type: z.literal('command.output'), seq, commandId,
  /**
   * Consecutive pieces in the order produced. A piece is either output as printed, of one
   * stream (o = stdout, e = stderr, h = header), or a log chunk the worker has cut into whole
   * lines and deflated (raw deflate) itself: `lines` lines of `rawBytes` bytes in all, whose
   * streams are `streams` ("o650e2o10": 650 stdout lines, 2 stderr, 10 stdout), stored as is.
   */
  // One object with optional fields rather than a union, so an error names the field at fault.
  chunks: z.array(z.object({
    stream: streamSchema.optional(),
    lines: z.number().int().positive().optional(),
    streams: z.string().max(100_000).regex(STREAM_RUNS).optional(),
    rawBytes: z.number().int().nonnegative().optional(),
    bytes: z.number().int().nonnegative(),
  }).strict().refine((c) => (c.stream !== undefined) !== (c.lines !== undefined && c.streams !== undefined && c.rawBytes !== undefined)
    && (c.stream === undefined || (c.lines ?? c.streams ?? c.rawBytes) === undefined), 'a piece has either a stream or lines, streams and rawBytes')).min(1),
}).strict();

export const finishReasonSchema = z.enum(['exited', 'timeout', 'maxTime', 'interrupted', 'spawnFailed']);

export const commandFinishedSchema = z.object({
  type: z.literal('command.finished'), seq, commandId,
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: finishReasonSchema,
  /** Human words for the reason: "no output for 5 s", "spawn sh ENOENT" … */
  message: z.string().optional(),
  durationMs: z.number().nonnegative(),
}).strict();

/** A report file, or why one that matched was not sent (see "Report files" above). */
export const commandReportSchema = z.object({
  type: z.literal('command.report'), seq, commandId,
  path: z.string().min(1).max(1000),
  /** The file's bytes, base64. */
  data: z.string().max(Math.ceil(REPORT_MAX_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/).optional(),
  skipped: z.string().max(1000).optional(),
}).strict().refine((r) => (r.data === undefined) !== (r.skipped === undefined), 'a report has either data or skipped');

export const heartbeatSchema = z.object({ type: z.literal('heartbeat'), seq, time: z.number() }).strict();

export const errorSchema = z.object({
  type: z.literal('error'), seq,
  re: seq.optional(),
  code: z.string(),
  message: z.string(),
}).strict();

/** The JSON messages a worker sends; its output comes in binary frames (decodeOutputFrame). */
export const workerMessageSchema = z.discriminatedUnion('type', [helloSchema, commandFinishedSchema, commandReportSchema, heartbeatSchema, errorSchema]);

// ---- master → worker ----------------------------------------------------------------------

export const welcomeSchema = z.object({
  type: z.literal('welcome'), seq, re: seq,
  protocol: z.number().int().positive(),
  heartbeatMs: z.number().int().positive(),
  master: z.string(),
  /** The master reads LZ4 log chunks (log-chunks.ts); without it a worker deflates. */
  lz4: z.boolean().optional(),
}).strict();

export const refusedSchema = z.object({ type: z.literal('refused'), seq, re: seq.optional(), code: z.string(), message: z.string() }).strict();

export const commandStartSchema = z.object({
  type: z.literal('command.start'), seq, commandId,
  /** argv to run directly; a shell command is ['sh', '-c', text]. */
  argv: z.array(z.string()).min(1),
  /** Folder relative to the worker's basedir; created if missing; may not leave the basedir. */
  workdir: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
  /** Seconds without output before the command is killed (reason `timeout`). */
  timeout: z.number().positive(),
  /** Seconds in all before the command is killed (reason `maxTime`). */
  maxTime: z.number().positive().optional(),
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs: z.number().int().nonnegative().default(5000),
  /** Globs of report files to send back once the command has ended (see "Report files"). */
  reports: z.array(z.string().min(1).max(1000)).max(100).optional(),
}).strict();

export const commandInterruptSchema = z.object({ type: z.literal('command.interrupt'), seq, commandId, reason: z.string() }).strict();

export const outputAckSchema = z.object({ type: z.literal('output.ack'), seq, commandId, bytes: z.number().int().nonnegative() }).strict();

export const masterMessageSchema = z.discriminatedUnion('type', [
  welcomeSchema, refusedSchema, commandStartSchema, commandInterruptSchema, outputAckSchema, heartbeatSchema, errorSchema,
]);

export type WorkerInfo = z.infer<typeof workerInfoSchema>;
export type LogStreamTag = z.infer<typeof streamSchema>;
export type FinishReason = z.infer<typeof finishReasonSchema>;
export type HelloMessage = z.input<typeof helloSchema>;
/** Output as printed, of one stream. */
export interface RawOutputPiece { stream: LogStreamTag; data: Buffer }
/** Whole lines cut and compressed by the worker; `data` is the compressed chunk. */
export interface EncodedOutputPiece { lines: number; streams: string; rawBytes: number; data: Buffer }
export type OutputPiece = RawOutputPiece | EncodedOutputPiece;
/** The bytes a piece carries: what the master acknowledges and the worker counts. */
export const outputBytes = (p: OutputPiece): number => p.data.length;

/** A decoded output frame: each chunk's data is a view into the frame, not a copy. */
export interface CommandOutputMessage {
  type: 'command.output';
  seq: number;
  commandId: string;
  chunks: OutputPiece[];
}
export type CommandFinishedMessage = z.infer<typeof commandFinishedSchema>;
export type WelcomeMessage = z.infer<typeof welcomeSchema>;
export type CommandStartMessage = z.infer<typeof commandStartSchema>;
export type CommandInterruptMessage = z.infer<typeof commandInterruptSchema>;
/** A validated frame from a worker. */
export type WorkerMessage = z.infer<typeof workerMessageSchema> | CommandOutputMessage;
/** A validated frame from the master. */
export type MasterMessage = z.infer<typeof masterMessageSchema>;

/** What a side may send: its message without `seq`, which the connection assigns. */
export type Outgoing<M> = M extends { seq: number } ? Omit<M, 'seq'> : never;
/** What a worker sends as JSON (output goes through encodeOutputFrame). */
export type WorkerOutgoing = Outgoing<z.input<typeof workerMessageSchema>>;
export type MasterOutgoing = Outgoing<z.input<typeof masterMessageSchema>>;

export type Decoded<M> = { ok: true; message: M } | { ok: false; error: string; seq?: number };

function decode<M>(schema: z.ZodType<M>, text: string): Decoded<M> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const seqOf = typeof raw === 'object' && raw !== null && typeof (raw as { seq?: unknown }).seq === 'number' ? (raw as { seq: number }).seq : undefined;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  const error = `invalid frame: ${where}${issue?.message ?? 'unknown problem'}`;
  return seqOf === undefined ? { ok: false, error } : { ok: false, error, seq: seqOf };
}

/** Builds a binary output frame from a header (its `bytes` must match) and the pieces. */
export function encodeOutputFrame(seq: number, commandId: string, chunks: readonly OutputPiece[]): Buffer {
  const pieces = chunks.map((c) => ('stream' in c ? { stream: c.stream, bytes: c.data.length } : { lines: c.lines, streams: c.streams, rawBytes: c.rawBytes, bytes: c.data.length }));
  const header = Buffer.from(JSON.stringify({ type: 'command.output', seq, commandId, chunks: pieces }));
  const size = Buffer.allocUnsafe(4);
  size.writeUInt32BE(header.length);
  return Buffer.concat([size, header, ...chunks.map((c) => c.data)]);
}

/** Validates a binary output frame; the chunks' data are views into `frame`. */
function decodeOutputFrame(frame: Buffer): Decoded<CommandOutputMessage> {
  if (frame.length < 4) return { ok: false, error: 'binary frame too short' };
  const headerLength = frame.readUInt32BE(0);
  if (4 + headerLength > frame.length) return { ok: false, error: 'binary frame header longer than the frame' };
  const header = decode(outputHeaderSchema, frame.subarray(4, 4 + headerLength).toString('utf8'));
  if (!header.ok) return header;
  let offset = 4 + headerLength;
  const total = header.message.chunks.reduce((n, c) => n + c.bytes, 0);
  if (offset + total !== frame.length) {
    return { ok: false, error: `output frame payload is ${frame.length - offset} bytes, its header says ${total}`, seq: header.message.seq };
  }
  for (const c of header.message.chunks) {
    if (c.streams !== undefined && [...c.streams.matchAll(/\d+/g)].reduce((n, m) => n + Number(m[0]), 0) !== c.lines) {
      return { ok: false, error: `output chunk streams ${c.streams.slice(0, 100)} do not add up to its ${c.lines} lines`, seq: header.message.seq };
    }
  }
  const chunks = header.message.chunks.map((c): OutputPiece => {
    const data = frame.subarray(offset, offset + c.bytes);
    offset += c.bytes;
    // The schema's refinement guarantees one shape or the other.
    return c.stream !== undefined ? { stream: c.stream, data } : { lines: c.lines!, streams: c.streams!, rawBytes: c.rawBytes!, data };
  });
  return { ok: true, message: { type: 'command.output', seq: header.message.seq, commandId: header.message.commandId, chunks } };
}

/** Validates a frame received by the master: JSON text, or a binary output frame. */
export function decodeWorkerFrame(data: string | Buffer): Decoded<WorkerMessage> {
  if (typeof data !== 'string') return decodeOutputFrame(data);
  return decode(workerMessageSchema, data);
}

/** Validates a frame received by a worker: always JSON text. */
export function decodeMasterFrame(data: string | Buffer): Decoded<MasterMessage> {
  if (typeof data !== 'string') return { ok: false, error: 'the master sends no binary frames' };
  return decode(masterMessageSchema, data);
}
