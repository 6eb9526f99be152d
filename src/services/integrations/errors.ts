/** Input the caller must fix (a 400 at the API), by field. */
export class ConnectionInputError extends Error {
  constructor(readonly errors: { path: string; message: string }[]) {
    super(errors.map((error) => `${error.path}: ${error.message}`).join('; '));
    this.name = 'ConnectionInputError';
  }
}

/** The request does not fit the connection's state (a 409): an API-key provider asked to authorize, credentials missing, a name taken. */
export class ConnectionConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionConflictError';
  }
}
