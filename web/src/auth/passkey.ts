import type { PasskeyAssertion, PasskeyRegistration, WebAuthnOptions } from '@concord/protocol';

/**
 * The browser's side of passkeys (navigator.credentials through @simplewebauthn/browser), loaded
 * on first use so the sign-in page does not carry it.
 */
export async function assertPasskey(options: WebAuthnOptions): Promise<PasskeyAssertion> {
  const { startAuthentication } = await import('@simplewebauthn/browser');
  return (await startAuthentication({ optionsJSON: options as unknown as Parameters<typeof startAuthentication>[0]['optionsJSON'] })) as PasskeyAssertion;
}

export async function createPasskey(options: WebAuthnOptions): Promise<PasskeyRegistration> {
  const { startRegistration } = await import('@simplewebauthn/browser');
  return (await startRegistration({ optionsJSON: options as unknown as Parameters<typeof startRegistration>[0]['optionsJSON'] })) as PasskeyRegistration;
}

/** WebAuthn's failures (cancelled, timed out, not allowed) in plain words; null for anything else. */
export function describePasskeyError(error: unknown): string | null {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'NotAllowedError' || name === 'AbortError') return 'The passkey was not used (cancelled or timed out).';
  if (name === 'InvalidStateError') return 'This passkey is registered already.';
  if (name === 'SecurityError') return 'Passkeys need a secure page (https, or localhost) on the configured site.';
  return null;
}
