import { LeaseholdError } from '../../lib/core/errors.ts';

/** An attach, detach or inspect that cannot be done as asked; the message says why, in one line. */
export class AttachError extends LeaseholdError {
  readonly code = 'E_ATTACH';
}
