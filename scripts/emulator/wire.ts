// AWS on the wire, as the emulator needs it: which service and operation a request addresses, a
// request of the emulator's own to moto, and answers in the query protocol's XML or in JSON.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyRequest, ProxyResponse } from './types.js';

const AUTOSCALING_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

/** An incoming HTTP request as the interceptors see it: the service and operation read from it. */
export function readProxyRequest(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): ProxyRequest {
  const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''));
  const target = String(headers['x-amz-target'] ?? '');
  const contentType = String(headers['content-type'] ?? '');
  const params = contentType.includes('application/x-www-form-urlencoded') ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
  const action = target ? target.split('.').pop() : (params.get('Action') ?? undefined);
  return { method, url, headers, body, service: scope?.[1], action, params };
}

/** A request the proxy itself makes to moto, signed in name only (moto checks no signatures). */
export function internalRequest(service: string, action: string, body: string, target?: string): ProxyRequest {
  const headers: IncomingHttpHeaders = {
    authorization: `AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    'content-type': target ? 'application/x-amz-json-1.1' : 'application/x-www-form-urlencoded; charset=utf-8',
    ...(target ? { 'x-amz-target': target } : {}),
  };
  return readProxyRequest('POST', '/', headers, Buffer.from(body));
}

export function queryXml(action: string, result: string): ProxyResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${AUTOSCALING_NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

export function queryError(status: number, code: string, message: string): ProxyResponse {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${AUTOSCALING_NS}"><Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

export function jsonResponse(status: number, value: unknown): ProxyResponse {
  return { status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(value) };
}
