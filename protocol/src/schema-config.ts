import { z } from 'zod';

/**
 * Zod compiles its object parsers with `new Function` where eval is allowed, deciding when each
 * schema is made. The web client's Content-Security-Policy forbids eval, so in a browser zod uses
 * its interpreted parsers from the start (same results, no CSP violation); servers keep the
 * compiled ones. index.ts loads this module before any module that makes a schema.
 */
if ('document' in globalThis) z.config({ jitless: true });
