import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { AuthenticatedUser } from '../identity';
import { HttpError, parseBody } from '../http-errors';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One declaration per route: its schemas validate the request at the boundary, type the handler,
 * and generate the OpenAPI document — the same source for all three.
 */
export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> {
  method: Method;
  /** Express path syntax, e.g. `/servers/:serverId/channels`. */
  path: string;
  summary: string;
  tag: string;
  /** Defaults to true: a bearer session is required. */
  auth?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** Success status, default 200 (201 for creations, 204 for no content). */
  status?: number;
}

export interface RouteContext<P, Q, B> {
  /** The authenticated caller; routes with `auth: false` never read it. */
  user: AuthenticatedUser;
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
  /** Answers with this success status instead of the spec's (e.g. 200 for a replayed 201 creation). */
  setStatus(status: number): void;
}

type Handler<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> = (
  ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>,
) => Promise<z.infer<R>>;

interface RegisteredRoute {
  spec: RouteSpec<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;
  handler: Handler<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;
}

export type Authenticate = (req: Request) => Promise<AuthenticatedUser>;

/** The response schema of 204 routes. */
export const NoContent = z.undefined();

export class RouteTable {
  readonly #routes: RegisteredRoute[] = [];

  add<P extends z.ZodType = z.ZodObject, Q extends z.ZodType = z.ZodObject, B extends z.ZodType = z.ZodUndefined, R extends z.ZodType = z.ZodType>(
    spec: RouteSpec<P, Q, B, R>,
    handler: Handler<P, Q, B, R>,
  ): void {
    this.#routes.push({ spec, handler } as unknown as RegisteredRoute);
  }

  /** An Express router serving every route, mounted under `/api`. */
  router(authenticate: Authenticate): express.Router {
    const router = express.Router();
    for (const { spec, handler } of this.#routes) {
      router[spec.method](spec.path, async (req, res) => {
        // The template, not the path: what the request metrics label it by.
        res.locals.route = `${req.baseUrl}${spec.path}`;
        const user = spec.auth === false ? (undefined as unknown as AuthenticatedUser) : await authenticate(req);
        const params = spec.params ? parseBody(spec.params, req.params) : {};
        const query = spec.query ? parseBody(spec.query, req.query) : {};
        if (!spec.body && req.body !== undefined && Object.keys(req.body as object).length > 0) {
          throw new HttpError('BAD_REQUEST', 'this route takes no request body');
        }
        const body = spec.body ? parseBody(spec.body, req.body ?? {}) : undefined;
        let statusOverride: number | undefined;
        const setStatus = (status: number) => void (statusOverride = status);
        const result = await handler({ user, params, query, body, req, res, setStatus });
        // A handler that answered itself (non-JSON, e.g. the metrics text) is done.
        if (res.headersSent) return;
        const status = statusOverride ?? spec.status ?? 200;
        if (status === 204 || result === undefined) res.status(status === 200 ? 204 : status).end();
        else res.status(status).json(result);
      });
    }
    return router;
  }

  /** OpenAPI 3.1 document of every route, served at /api/openapi.json. */
  openapi(info: { title: string; version: string }): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const { spec } of this.#routes) {
      const path = `/api${spec.path.replace(/:(\w+)/g, '{$1}')}`;
      const parameters = [
        ...objectFields(spec.params).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
        ...objectFields(spec.query).map(([name, schema, required]) => ({ name, in: 'query', required, schema })),
      ];
      const status = String(spec.status ?? 200);
      (paths[path] ??= {})[spec.method] = {
        summary: spec.summary,
        tags: [spec.tag],
        ...(spec.auth === false ? {} : { security: [{ bearer: [] }] }),
        ...(parameters.length ? { parameters } : {}),
        ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body) } } } } : {}),
        responses: {
          [status]: status === '204' ? { description: 'no content' } : { description: 'success', content: { 'application/json': { schema: jsonSchema(spec.response) } } },
          default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    };
  }
}

function jsonSchema(schema: z.ZodType): object {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  return rest;
}

function objectFields(schema: z.ZodType | undefined): [string, object, boolean][] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => [name, jsonSchema(field), !field.safeParse(undefined).success]);
}
