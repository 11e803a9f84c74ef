import { base32Decode, base32Encode, matchingStep, totpCode, totpStepAt, totpUri } from './totp';

// RFC 6238 appendix B, SHA-1: the secret "12345678901234567890", 8-digit codes; ours are their last 6 digits.
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890'));
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

test.each(RFC_VECTORS)('RFC 6238 test vector at %i s', (seconds, code) => {
  expect(totpCode(RFC_SECRET, totpStepAt(seconds * 1000))).toBe(code.slice(-6));
});

test('base32 round trip, and the step a code belongs to', () => {
  for (const length of [1, 5, 10, 20, 33]) {
    const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + 11) & 255));
    expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
  }
  expect(() => base32Decode('not base32!')).toThrow();
  const step = totpStepAt(Date.now());
  expect(matchingStep(RFC_SECRET, totpCode(RFC_SECRET, step + 1), [step - 1, step, step + 1])).toBe(step + 1);
  expect(matchingStep(RFC_SECRET, totpCode(RFC_SECRET, step + 2), [step - 1, step, step + 1])).toBeNull();
  expect(matchingStep(RFC_SECRET, '12345', [step])).toBeNull();
  expect(totpUri('Concord', 'ada lovelace', 'ABC')).toBe('otpauth://totp/Concord:ada%20lovelace?secret=ABC&issuer=Concord&algorithm=SHA1&digits=6&period=30');
});
