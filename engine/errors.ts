/**
 * The one registry of errors Sluice reports. Every error a client, an operator or a script can see
 * has a stable code here; the HTTP status and CLI exit code follow from it. Add codes, never rename.
 */
export const ERRORS = {
  BODY_EMPTY: { status: 400, message: 'The request body is empty.' },
  BODY_UNPARSEABLE: { status: 400, message: 'The body cannot be parsed as its declared content type.' },
  BODY_SHAPE: { status: 400, message: 'The body parsed, but is not a list of transaction records.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the configured limit.' },
  TOO_MANY_ROWS: { status: 413, message: 'The body holds more rows than one request may carry.' },
  CONTENT_TYPE_UNSUPPORTED: { status: 415, message: 'The content type is not one Sluice accepts.' },
  REFERENCE_DATA_INVALID: {
    status: 500,
    message: 'A reference table (modulus, IBAN registry) could not be loaded.',
  },
  WASM_FAILURE: { status: 500, message: 'The validation kernels failed.' },
  OVERLOADED: { status: 429, message: 'Sluice is at its admission limit; retry after the delay given.' },
  SHUTTING_DOWN: {
    status: 503,
    message: 'Sluice is shutting down; retry against another instance or later.',
  },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  INTERNAL: { status: 500, message: 'Internal error; see the service log.' },
  USAGE: { status: 400, message: 'Bad usage.' },
  FILE_UNREADABLE: { status: 400, message: 'The input file cannot be read.' },
  CONFIG_INVALID: { status: 500, message: 'The configuration is invalid.' },
  SANCTIONS_LIST_INVALID: {
    status: 500,
    message: 'A sanctions list file could not be read or parsed, or holds no names.',
  },
  RULES_INVALID: { status: 500, message: 'The AML rules file is invalid; the rules in force are unchanged.' },
  AML_STATE: { status: 500, message: 'The AML state could not be read or written.' },
  INSUFFICIENT_STORAGE: {
    status: 507,
    message: 'The data volume is full (or failing): nothing was stored. Retry after the delay given.',
  },
  STORAGE_CORRUPT: {
    status: 500,
    message: 'Stored data does not match its recorded checksum; it is reported, never served.',
  },
  // Quarantine review (engine/review/).
  QUARANTINE_AMBIGUOUS: {
    status: 409,
    message: 'Several open quarantined rows have this tx_id: name one with batch_id in the body.',
  },
  QUARANTINE_RESOLVED: { status: 409, message: 'The quarantined row has already been resolved.' },
  DUPLICATE_TX: {
    status: 409,
    message: 'A row with this tx_id is already stored: it cannot be accepted twice.',
  },
  CORRECTION_INVALID: {
    status: 422,
    message: 'The corrected row is still invalid; nothing was changed.',
  },
  QUARANTINE_ERASED: {
    status: 409,
    message:
      "The row's personal data has been erased: it can be rejected, or corrected with every erased field given.",
  },
  QUARANTINE_NOT_RELEASABLE: {
    status: 422,
    message:
      'The row lacks a value the layers need (a required field is missing or malformed): correct it instead.',
  },
  // One code for a missing, malformed, unknown, wrong or revoked key: the reply never says which.
  UNAUTHENTICATED: { status: 401, message: 'A valid API key is required: Authorization: Bearer <key>.' },
  FORBIDDEN: { status: 403, message: 'The API key does not have the role this route requires.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests for this API key; retry after the delay given.' },
  NO_API_KEYS: {
    status: 500,
    message: 'No API key exists: Sluice listens beyond loopback only once one does (sluice keys create).',
  },
  // The transport (api/transport.ts): what a client gets before any route runs.
  REQUEST_TIMEOUT: {
    status: 408,
    message: 'The request (headers or body) did not arrive within the configured time.',
  },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the server accepts.' },
  URI_TOO_LONG: { status: 414, message: 'A path segment is longer than any identifier Sluice uses.' },
  EXPECTATION_FAILED: { status: 417, message: 'Only `Expect: 100-continue` is supported.' },
  MEMORY_PRESSURE: {
    status: 503,
    message: "Sluice's memory is above its configured bound (--max-rss-mb); retry after the delay given.",
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, detail?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message);
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }

  /** The `{"error": {"code", "message"}}` body of CONTRACT §3. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isSluiceError(e: unknown): e is SluiceError {
  return e instanceof SluiceError;
}
