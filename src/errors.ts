// The registry of Keel's error codes. Every code is stable (tools and docs refer to it) and
// documented in docs/errors.md; a test keeps the two in step.

export const ERROR_CODES = {
  KEEL_ERR_USAGE: 'A command-line option or argument is wrong.',
  KEEL_ERR_TESTDIR_NOT_FOUND: 'The test directory given to keel test does not exist.',
  KEEL_ERR_TEST_NOT_FOUND: 'A test named on the command line or in --fromfile matches no test file.',
  KEEL_ERR_FROMFILE: 'A file named by --fromfile or --matchfile cannot be read.',
  KEEL_ERR_BAD_PATTERN: 'A -m/-i pattern or --shard value cannot be understood.',
  KEEL_ERR_CONFIG_INVALID: 'The configuration has errors; each is listed with the path of its field.',
  KEEL_ERR_CONFIG_LOAD: 'The configuration file cannot be found, read or evaluated.',
  KEEL_ERR_STORAGE: 'The database cannot be opened, migrated or understood.',
  KEEL_ERR_MASTER_RUNNING: 'A master of the same name already runs on the same SQLite database.',
  KEEL_ERR_LISTEN: 'The master cannot listen on its host and port: in use, not allowed, or no such address.',
  KEEL_ERR_PROTOCOL: 'A master/worker frame was malformed, unknown or out of order.',
  KEEL_ERR_WORKER_AUTH: 'A worker was refused: unknown name, wrong secret or protocol version.',
  KEEL_ERR_NOT_FOUND: 'An API request named a builder, request, build, step or log that does not exist.',
  KEEL_ERR_UNAUTHORIZED: 'A write API request came without a valid bearer token.',
  KEEL_ERR_BAD_REQUEST: 'An API request body or query is invalid.',
  KEEL_ERR_INTERNAL: 'The master failed while answering an API request; its log has the details.',
  KEEL_ERR_PARSE_INPUT: 'A file given to keel parse cannot be read.',
  KEEL_ERR_PARSE_FORMAT: 'keel parse cannot tell the format of a file; --format names it.',
  KEEL_ERR_CHANGE_INVALID: 'A change (from a poller, a webhook or the API) lacks a field or has a wrong one.',
  KEEL_ERR_GIT_POLL: 'The git poller could not list, fetch or read a repository; it logs this and tries again.',
  KEEL_ERR_SCHEDULER_INVALID: 'A scheduler was given wrong options: no builders, a bad cron expression, a bad interval.',
  KEEL_ERR_FORCE_PARAMS: 'A force request gave parameters that are unknown, missing or of the wrong type.',
  KEEL_ERR_CONFLICT: 'Another master changed the same thing meanwhile (a git poller\'s tips); nothing was written, the next attempt goes on from there.',
  KEEL_ERR_STEP_COMMAND: 'A step\'s command function threw, or returned no command; the step ends in EXCEPTION.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class KeelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'KeelError';
  }
}

export function isKeelError(err: unknown): err is KeelError {
  return err instanceof KeelError;
}
