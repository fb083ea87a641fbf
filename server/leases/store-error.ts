import { LeaseholdError } from '../../lib/core/errors.ts';

/** Any failure of a lease store; the message names the store so the operator knows which file. */
export class StoreError extends LeaseholdError {
  readonly code = 'E_STORE';

  constructor(
    readonly store: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`lease store ${store}: ${detail}`, options);
  }
}

