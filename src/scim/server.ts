// The SCIM 2.0 HTTP server (RFC 7644) that identity providers push users and groups to. One base URL per
// DirectorySync: /scim/v2/<namespace>/<name>; each checks the bearer token against that directory's own
// Secret. Successful writes go to the directory's store and then ask for a reconcile of that directory.
// HTTPS with a mounted certificate, or plain HTTP behind a TLS-terminating proxy (docs/providers/scim.md).
// Every limit answers with a SCIM error body: request size, requests per second per directory token,
// page size (clamped), header and request timeouts, content types.
import { randomUUID } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../runtime/logger.js';
import { getAttr, type Json, type ResourceKind } from './attributes.js';
import type { DirectoryRef, ScimDirectories } from './directories.js';
import { listResponse, MAX_RESULTS, resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { ScimError } from './errors.js';
import { parseFilter } from './filter.js';
import { applyPatch, operationsOf } from './patch.js';
import { build, present, projectionFrom, type StoredResource } from './resources.js';
import type { ScimDocument, ScimStore } from './store.js';
import { DEFAULT_SCIM_LIMITS, type ScimLimits } from './limits.js';
import { TokenBuckets } from './ratelimit.js';
import { tokenMatches, type DirectoryTokens, type TokenStore } from './tokens.js';
import { MAX_JSON_DEPTH, jsonDepth } from './json-depth.js';

export { DEFAULT_SCIM_LIMITS, type ScimLimits };

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const TOKEN_CACHE_MS = 2_000;
/** Media types a request body may have; a body without a Content-Type is read as JSON too. */
const JSON_MEDIA_TYPES = new Set(['application/scim+json', 'application/json']);

export interface ScimServerOptions {
  host?: string;
  port?: number;
  directories: ScimDirectories;
  tokens: TokenStore;
  store: ScimStore;
  /** Called after every successful write, with the directory it changed. */
  onChange: (directory: DirectoryRef) => void;
  /**
   * Serve HTTPS with this PEM certificate and key (e.g. a cert-manager Secret mounted as files); both
   * are read again when the certificate file changes, so a renewal needs no restart.
   */
  tls?: ScimTlsFiles;
  limits?: Partial<ScimLimits>;
  log?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  now?: () => number;
}

interface Request {
  method: string;
  dir: DirectoryRef;
  baseUrl: string;
  segments: string[];
  params: URLSearchParams;
  body: () => Promise<Json>;
}

interface Reply {
  status: number;
  body?: Json;
  location?: string;
  headers?: Record<string, string>;
}

const COLLECTIONS: Record<string, ResourceKind> = { users: 'User', groups: 'Group' };

export interface ScimTlsFiles {
  certFile: string;
  keyFile: string;
}

/** How often a mounted certificate is checked for renewal. */
const TLS_CHECK_MS = 10_000;

export class ScimServer {
  private readonly server: Server | TlsServer;
  private readonly tokenCache = new Map<string, { at: number; tokens: DirectoryTokens }>();
  private readonly limits: ScimLimits;
  private readonly buckets: TokenBuckets;

  constructor(private readonly opts: ScimServerOptions) {
    this.limits = { ...DEFAULT_SCIM_LIMITS, ...opts.limits };
    this.buckets = new TokenBuckets(this.limits.ratePerSecond, this.limits.burst, () => this.now());
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = opts.tls;
    const timeouts = {
      headersTimeout: this.limits.headersTimeoutMs,
      requestTimeout: this.limits.requestTimeoutMs,
      keepAliveTimeout: this.limits.keepAliveTimeoutMs,
      // How often node looks for expired requests; its default (30 s) would stretch short timeouts.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, this.limits.headersTimeoutMs / 4)),
    };
    this.server = tls ? createTlsServer({ ...readKeyPair(tls), ...timeouts }, handler) : createServer(timeouts, handler);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => rejectMalformed(err, socket));
    if (tls) watchFile(tls.certFile, { interval: TLS_CHECK_MS, persistent: false }, () => this.reloadTls());
  }

  /** Reads the certificate and key again; the next connections get them. A bad pair keeps the old one. */
  reloadTls(): void {
    const tls = this.opts.tls;
    if (!tls) return;
    try {
      (this.server as TlsServer).setSecureContext(readKeyPair(tls));
      this.opts.log?.info('SCIM TLS certificate reloaded', { certFile: tls.certFile });
    } catch (err) {
      this.opts.log?.warn('SCIM TLS certificate not reloaded; still serving the previous one', { certFile: tls.certFile, error: String((err as Error)?.message ?? err) });
    }
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 8443, this.opts.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as AddressInfo).port;
    this.opts.log?.info('serving SCIM', { host: this.opts.host ?? '0.0.0.0', port });
    return port;
  }

  get port(): number | undefined {
    return (this.server.address() as AddressInfo | null)?.port;
  }

  async close(): Promise<void> {
    if (this.opts.tls) unwatchFile(this.opts.tls.certFile);
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.route(req);
    } catch (err) {
      if (err instanceof RateLimited) reply = { status: 429, body: err.body(), headers: { 'retry-after': String(Math.max(1, Math.ceil(err.waitMs / 1000))) } };
      else if (err instanceof ScimError) reply = { status: err.status, body: err.body() };
      else {
        this.opts.log?.warn('SCIM request failed', { method: req.method, error: String((err as Error)?.message ?? err).split('\n')[0] });
        reply = { status: 500, body: new ScimError(500, 'the request could not be completed; try again').body() };
      }
    }
    // A client still uploading a body that is too large reads the 413 only if the connection is not torn
    // down under it: the rest is read and discarded first (the request timeout bounds how long that takes).
    if (reply.status === 413 && !req.complete) await discardRest(req);
    // The client left, or node already answered (a request timeout): nobody is listening.
    if (res.headersSent || res.destroyed || req.socket.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    // An error before the whole body was read leaves the rest unread: close rather than parse it as a request.
    if (reply.status >= 400 && !req.complete) headers.connection = 'close';
    if (reply.body) headers['content-type'] = SCIM_CONTENT_TYPE;
    if (reply.location) headers.location = reply.location;
    if (reply.status === 401) headers['www-authenticate'] = 'Bearer realm="idpsync-scim"';
    res.writeHead(reply.status, headers);
    res.end(reply.body ? JSON.stringify(reply.body) : undefined);
  }

  private async route(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://scim.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodePart);
    if (parts[0] !== 'scim' || parts[1] !== 'v2' || parts.length < 4) throw new ScimError(404, 'SCIM endpoints are at /scim/v2/<namespace>/<directory>/…');
    const dir = { namespace: parts[2], name: parts[3] };
    await this.authenticate(dir, req.headers.authorization);
    const waitMs = this.buckets.take(`${dir.namespace}/${dir.name}`);
    if (waitMs > 0) throw new RateLimited(waitMs);
    const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0].trim() ?? 'http';
    const request: Request = {
      method: (req.method ?? 'GET').toUpperCase(),
      dir,
      baseUrl: `${proto}://${req.headers.host ?? 'localhost'}/scim/v2/${encodeURIComponent(dir.namespace)}/${encodeURIComponent(dir.name)}`,
      segments: parts.slice(4),
      params: url.searchParams,
      body: () => readJson(req, this.limits.maxBodyBytes),
    };
    return this.dispatch(request);
  }

  /** 401 unless the bearer token is this directory's token or previous token. Unknown directories look the same. */
  private async authenticate(dir: DirectoryRef, header: string | undefined): Promise<void> {
    const presented = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '')?.[1]?.trim();
    const known = await this.opts.directories.directory(dir.namespace, dir.name);
    const tokens = known ? await this.tokensOf(dir) : {};
    if (!presented || !tokenMatches(presented, [tokens.token, tokens.previousToken])) {
      throw new ScimError(401, 'a valid bearer token for this directory is required');
    }
  }

  private async tokensOf(dir: DirectoryRef): Promise<DirectoryTokens> {
    const key = `${dir.namespace}/${dir.name}`;
    const cached = this.tokenCache.get(key);
    if (cached && this.now() - cached.at < TOKEN_CACHE_MS) return cached.tokens;
    const tokens = await this.opts.tokens.read(dir.namespace, dir.name);
    this.tokenCache.set(key, { at: this.now(), tokens });
    return tokens;
  }

  private async dispatch(r: Request): Promise<Reply> {
    const [first, id, ...rest] = r.segments;
    if (rest.length > 0 || first === undefined) throw new ScimError(404, 'no such endpoint');
    const collection = first.toLowerCase();
    if (collection === 'serviceproviderconfig' && !id) return this.onlyGet(r, () => serviceProviderConfig(r.baseUrl));
    if (collection === 'resourcetypes') return this.onlyGet(r, () => discoveryList(resourceTypes(r.baseUrl), id));
    if (collection === 'schemas') return this.onlyGet(r, () => discoveryList(schemas(r.baseUrl), id));
    const kind = COLLECTIONS[collection];
    if (!kind) throw new ScimError(404, `no such endpoint "${first}"`);
    if (id === undefined) {
      if (r.method === 'GET') return this.list(r, kind);
      if (r.method === 'POST') return this.create(r, kind);
      throw new ScimError(405, `${r.method} is not supported on /${first}`);
    }
    switch (r.method) {
      case 'GET':
        return this.getOne(r, kind, id);
      case 'PUT':
        return this.replace(r, kind, id);
      case 'PATCH':
        return this.patch(r, kind, id);
      case 'DELETE':
        return this.remove(r, kind, id);
      default:
        throw new ScimError(405, `${r.method} is not supported on /${first}/{id}`);
    }
  }

  private onlyGet(r: Request, body: () => Json): Reply {
    if (r.method !== 'GET') throw new ScimError(405, `${r.method} is not supported here`);
    return { status: 200, body: body() };
  }

  private async list(r: Request, kind: ResourceKind): Promise<Reply> {
    const filterText = r.params.get('filter');
    const matches = filterText ? parseFilter(kind, filterText) : () => true;
    const startIndex = Math.max(1, integerParam(r.params, 'startIndex') ?? 1);
    const count = Math.min(MAX_RESULTS, Math.max(0, integerParam(r.params, 'count') ?? MAX_RESULTS));
    const doc = await this.opts.store.read(r.dir.namespace, r.dir.name);
    const found = resourcesOf(doc, kind).filter((res) => matches(res));
    const projection = projectionFrom(r.params);
    const page = found.slice(startIndex - 1, startIndex - 1 + count).map((res) => present(kind, res, r.baseUrl, projection));
    return { status: 200, body: listResponse(page, found.length, startIndex) };
  }

  private async getOne(r: Request, kind: ResourceKind, id: string): Promise<Reply> {
    const doc = await this.opts.store.read(r.dir.namespace, r.dir.name);
    const found = resourcesOf(doc, kind).find((res) => res.id === id);
    if (!found) throw notFound(kind, id);
    return { status: 200, body: present(kind, found, r.baseUrl, projectionFrom(r.params)) };
  }

  private async create(r: Request, kind: ResourceKind): Promise<Reply> {
    const body = await r.body();
    const now = new Date(this.now()).toISOString();
    const created = build(kind, body, randomUUID(), now);
    await this.write(r, (doc) => {
      const list = resourcesOf(doc, kind);
      checkUnique(kind, list, created);
      list.push(created);
      return created;
    });
    return { status: 201, body: present(kind, created, r.baseUrl), location: `${r.baseUrl}/${kind}s/${created.id}` };
  }

  private async replace(r: Request, kind: ResourceKind, id: string): Promise<Reply> {
    const body = await r.body();
    const now = new Date(this.now()).toISOString();
    const stored = await this.write(r, (doc) => {
      const list = resourcesOf(doc, kind);
      const at = list.findIndex((res) => res.id === id);
      if (at < 0) throw notFound(kind, id); // PUT never creates
      const next = build(kind, body, id, now, list[at]);
      checkUnique(kind, list, next);
      list[at] = next;
      return next;
    });
    return { status: 200, body: present(kind, stored, r.baseUrl, projectionFrom(r.params)) };
  }

  private async patch(r: Request, kind: ResourceKind, id: string): Promise<Reply> {
    const operations = operationsOf(await r.body());
    const now = new Date(this.now()).toISOString();
    const stored = await this.write(r, (doc) => {
      const list = resourcesOf(doc, kind);
      const at = list.findIndex((res) => res.id === id);
      if (at < 0) throw notFound(kind, id);
      const { id: _id, meta: _meta, ...attrs } = list[at];
      const next = build(kind, applyPatch(kind, attrs, operations), id, now, list[at]);
      checkUnique(kind, list, next);
      list[at] = next;
      return next;
    });
    // Groups answer 204: sending back thousands of members after each membership change helps nobody.
    if (kind === 'Group' && !r.params.has('attributes')) return { status: 204 };
    return { status: 200, body: present(kind, stored, r.baseUrl, projectionFrom(r.params)) };
  }

  private async remove(r: Request, kind: ResourceKind, id: string): Promise<Reply> {
    await this.write(r, (doc) => {
      const list = resourcesOf(doc, kind);
      const at = list.findIndex((res) => res.id === id);
      if (at < 0) throw notFound(kind, id);
      list.splice(at, 1);
      // A deleted user or group is no longer anyone's member.
      for (const group of doc.groups) {
        const members = getAttr(group, 'members');
        if (Array.isArray(members)) group.members = members.filter((m) => (m as Json)?.value !== id);
      }
      return undefined;
    });
    return { status: 204 };
  }

  private async write<T>(r: Request, change: (doc: ScimDocument) => T): Promise<T> {
    const result = await this.opts.store.update(r.dir.namespace, r.dir.name, (doc) => ({ doc, result: change(doc) }));
    this.opts.onChange(r.dir);
    return result;
  }
}

function resourcesOf(doc: ScimDocument, kind: ResourceKind): StoredResource[] {
  return kind === 'User' ? doc.users : doc.groups;
}

function checkUnique(kind: ResourceKind, list: StoredResource[], candidate: StoredResource): void {
  if (kind !== 'User') return;
  const userName = String(getAttr(candidate, 'userName')).toLowerCase();
  if (list.some((u) => u.id !== candidate.id && String(getAttr(u, 'userName')).toLowerCase() === userName)) {
    throw new ScimError(409, `a user with userName "${String(getAttr(candidate, 'userName'))}" already exists`, 'uniqueness');
  }
}

function notFound(kind: ResourceKind, id: string): ScimError {
  return new ScimError(404, `${kind} ${id} not found`);
}

function discoveryList(items: Json[], id: string | undefined): Json {
  if (id === undefined) return listResponse(items, items.length, 1);
  const found = items.find((item) => String(item.id).toLowerCase() === id.toLowerCase());
  if (!found) throw new ScimError(404, `${id} not found`);
  return found;
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ScimError(404, 'no such endpoint');
  }
}

function integerParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ScimError(400, `${name} must be an integer`, 'invalidValue');
  return value;
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<Json> {
  const mediaType = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (mediaType && !JSON_MEDIA_TYPES.has(mediaType)) {
    throw new ScimError(415, `request bodies must be application/scim+json or application/json, not ${mediaType}`);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new ScimError(413, `the request body is larger than ${maxBytes} bytes`);
  let body: unknown;
  try {
    const text = (await readBody(req, maxBytes)).toString('utf8');
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw new ScimError(400, `the request body nests more than ${MAX_JSON_DEPTH} levels deep`, 'invalidSyntax');
    body = JSON.parse(text);
  } catch (err) {
    if (err instanceof ScimError) throw err;
    throw new ScimError(400, 'the request body is not JSON', 'invalidSyntax');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'the request body must be a JSON object', 'invalidSyntax');
  return body as Json;
}

function discardRest(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.resume();
  });
}

/** The body, refused past maxBytes without tearing the connection down, so the client reads the 413. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) settle(() => reject(new ScimError(413, `the request body is larger than ${maxBytes} bytes`)));
      else if (!settled) chunks.push(chunk);
    });
    req.on('end', () => settle(() => resolve(Buffer.concat(chunks))));
    req.on('error', (err) => settle(() => reject(err)));
    req.on('close', () => settle(() => reject(new Error('the client closed the connection before sending the whole body'))));
  });
}

/** Throttled: answered 429 with Retry-After. */
class RateLimited extends ScimError {
  constructor(readonly waitMs: number) {
    super(429, 'too many requests for this directory; retry after the time in Retry-After');
  }
}

/**
 * A request node's parser refused or that timed out before the handler could answer: answered with a
 * SCIM error body where the connection still allows it, then closed.
 */
function rejectMalformed(err: NodeJS.ErrnoException, socket: Socket): void {
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const answered = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || answered) {
    socket.destroy();
    return;
  }
  const detail = status === 408 ? 'the request was not received in time' : status === 431 ? 'the request headers are too large' : 'the request is not valid HTTP';
  const body = JSON.stringify(new ScimError(status, detail).body());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function readKeyPair(tls: ScimTlsFiles): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
}
