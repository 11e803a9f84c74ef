/**
 * What the web client learns from the deployment at run time: `GET /api/config`. One build serves
 * every deployment; Firebase sign-in is offered when the answer names a Firebase project, local
 * sign-in otherwise (also when the route is missing: an API without it has local sign-in only).
 *
 *   { "firebase": { "apiKey": "…", "authDomain": "…", "projectId": "…", "emulatorUrl": "http://127.0.0.1:9099" } }
 *
 * `emulatorUrl` (tests and development only) points the SDK at the Firebase Auth emulator.
 */
export interface FirebaseWebConfig {
  apiKey: string;
  authDomain?: string;
  projectId: string;
  emulatorUrl?: string;
}
export interface ClientConfig {
  firebase?: FirebaseWebConfig | null;
}

const text = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Keeps what is well formed; a malformed Firebase section means no Firebase. */
export function parseClientConfig(body: unknown): ClientConfig {
  const firebase = (body as { firebase?: Record<string, unknown> } | null)?.firebase;
  if (!firebase || !text(firebase.apiKey) || !text(firebase.projectId)) return {};
  return {
    firebase: {
      apiKey: firebase.apiKey,
      projectId: firebase.projectId,
      ...(text(firebase.authDomain) && { authDomain: firebase.authDomain }),
      ...(text(firebase.emulatorUrl) && { emulatorUrl: firebase.emulatorUrl }),
    },
  };
}

let loaded: Promise<ClientConfig> | undefined;

/** Fetched once per page; any failure means "local sign-in". */
export function clientConfig(): Promise<ClientConfig> {
  return (loaded ??= fetch('/api/config', { headers: { accept: 'application/json' } })
    .then(async (response) => (response.ok ? parseClientConfig(await response.json()) : {}))
    .catch(() => ({})));
}
