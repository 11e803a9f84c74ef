import { webContentSecurityPolicy } from './security-headers';

const directives = (policy: string): Record<string, string[]> =>
  Object.fromEntries(
    policy.split('; ').map((directive) => {
      const [name, ...values] = directive.split(' ');
      return [name!, values];
    }),
  );

test('the web policy: own origin only by default, never framed, no inline script or eval', () => {
  const policy = directives(webContentSecurityPolicy());
  expect(policy).toMatchObject({ 'script-src': ["'self'"], 'connect-src': ["'self'"], 'frame-src': ["'none'"], 'frame-ancestors': ["'none'"], 'object-src': ["'none'"] });
  expect(JSON.stringify(policy)).not.toMatch(/unsafe/);
});

test('the asset CDN and Firebase sign-in (or its emulator) are allowed when configured', () => {
  const policy = directives(
    webContentSecurityPolicy({ assetBaseUrl: 'https://cdn.example.com/concord/', firebase: { authDomain: 'demo-x.firebaseapp.com', emulatorUrl: 'http://127.0.0.1:9099' } }),
  );
  expect(policy['script-src']).toEqual(["'self'", 'https://cdn.example.com']);
  expect(policy['style-src']).toEqual(["'self'", 'https://cdn.example.com']);
  expect(policy['connect-src']).toEqual(["'self'", 'https://cdn.example.com', 'https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com', 'http://127.0.0.1:9099']);
  expect(policy['frame-src']).toEqual(['https://demo-x.firebaseapp.com']);
  // A path-only base (the default `/`) is this origin.
  expect(directives(webContentSecurityPolicy({ assetBaseUrl: '/' }))['script-src']).toEqual(["'self'"]);
});
