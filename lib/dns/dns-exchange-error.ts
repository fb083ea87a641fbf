import { LeaseholdError } from '../core/errors.ts';

/**
 * A DNS exchange that produced no usable answer: no answer in time
 * (`E_DNS_TIMEOUT`), the server unreachable or the connection lost
 * (`E_DNS_UNREACHABLE`), or an answer that does not belong to the request
 * on a connection where no other could arrive (`E_DNS_BAD_RESPONSE`).
 */
export class DnsExchangeError extends LeaseholdError {
  constructor(
    readonly code: 'E_DNS_TIMEOUT' | 'E_DNS_UNREACHABLE' | 'E_DNS_BAD_RESPONSE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
