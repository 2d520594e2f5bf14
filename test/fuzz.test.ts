import { beforeAll, describe, expect, it } from 'vitest';
import { formatReport, runFuzz, type Finding, type FuzzReport } from '../bench/lib/fuzz-runner.ts';
import { matchOperation, operationsOf, type ApiDocument } from '../bench/lib/fuzz-openapi.ts';

/**
 * Issue 14: never a 5xx for client input. A seeded run of the OpenAPI-driven fuzzer (bench/fuzz.ts)
 * against the real application: valid requests from the schemas and the same mutated field by
 * field, bodies emptied, truncated or mislabelled, multipart oddities, odd path and query
 * parameters, hostile images, bad credentials. `npm run fuzz -- --runs N` runs longer ones.
 */

const SEED = 1414;
const RUNS = 2500;

let report: FuzzReport;

const describeFindings = (fs: Finding[]) => fs.map((f) => {
  const e = f.examples[0];
  return `${f.count}× ${f.detail}\n    e.g. ${e.method} ${e.url.slice(0, 160)} (${e.kind}, ${e.auth}) → ${e.status} ${e.response_excerpt.slice(0, 160)}\n    ${e.replay}`;
}).join('\n');

const of = (type: Finding['type']) => report.findings.filter((f) => f.type === type);

describe(`fuzzing every operation of the OpenAPI document (seed ${SEED}, ${RUNS} requests)`, () => {
  beforeAll(async () => {
    report = await runFuzz({ runs: RUNS, seed: SEED, progressEvery: 0 });
    if (report.findings.length) console.log(formatReport(report));
  }, 120_000);

  it('sends at least 2,000 requests, to every operation', () => {
    expect(report.requests).toBeGreaterThanOrEqual(2000);
    expect(report.operationsNeverSent).toEqual([]);
    expect(report.operations).toBeGreaterThanOrEqual(60);
  });

  it('never answers 5xx (503 on readiness aside)', () => {
    expect(describeFindings(of('server-error'))).toBe('');
  });

  it('answers every 4xx with {"request_id", "error": {"code", "message", "field"?}}, its code documented with that status', () => {
    expect(describeFindings(of('error-body'))).toBe('');
  });

  it('keeps an audit record of every /v1 request, and the chain verifies', () => {
    expect(describeFindings(of('audit-missing'))).toBe('');
    expect(report.audit.found).toBe(report.audit.expected);
    expect(report.audit.chainValid).toBe(true);
  });

  it('answers every request, and its health probe throughout', () => {
    expect(describeFindings([...of('no-answer'), ...of('app-down')])).toBe('');
  });
});

describe('reading the OpenAPI document, 3.0 or 3.1', () => {
  const body = (schema: object) => ({ requestBody: { required: true, content: { 'application/json': { schema } } }, responses: { 200: {}, '4XX': {} } });

  it('brings 3.0 nullable, boolean exclusiveMinimum, draft-07 tuples and $refs to one form', () => {
    const doc: ApiDocument = {
      openapi: '3.0.3',
      components: { schemas: { Id: { type: 'string', nullable: true, maxLength: 8 } } },
      paths: {
        '/v1/things/{id}': {
          parameters: [{ name: 'id', in: 'path', schema: { $ref: '#/components/schemas/Id' } }],
          post: body({ type: 'object', properties: { n: { type: 'number', minimum: 0, exclusiveMinimum: true }, pair: { type: 'array', items: [{ type: 'integer' }, { type: 'string' }], additionalItems: false } } }),
        },
      },
    };
    const [op] = operationsOf(doc);
    expect(op.key).toBe('POST /v1/things/{id}');
    expect(op.params[0].schema).toMatchObject({ types: ['string', 'null'], maxLength: 8 });
    const s = op.body!.media[0].schema.properties!;
    expect(s.n).toMatchObject({ types: ['number'], exclusiveMinimum: 0 });
    expect(s.n.minimum).toBeUndefined();
    expect(s.pair.prefixItems!.map((p) => p.types)).toEqual([['integer'], ['string']]);
    expect(s.pair.items).toBe(false);
    expect(op.statuses.has(200) && op.statuses.has(404) && !op.statuses.has(500)).toBe(true);
    expect(matchOperation([op], 'POST', '/v1/things/abc')?.key).toBe(op.key);
  });

  it('brings 3.1 type arrays, const, numeric exclusiveMinimum, prefixItems and contentMediaType to the same form', () => {
    const doc: ApiDocument = {
      openapi: '3.1.0',
      paths: {
        '/v1/things': {
          post: {
            ...body({ type: 'object', properties: { id: { type: ['string', 'null'] }, kind: { const: 'a' }, n: { type: 'number', exclusiveMinimum: 0 }, pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }], items: false } } }),
            requestBody: { content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } } } } },
          },
        },
      },
    };
    const [op] = operationsOf(doc);
    expect(op.body!.media[0].type).toBe('multipart/form-data');
    expect(op.body!.media[0].schema.properties!.file.format).toBe('binary');
    const [json] = operationsOf({ ...doc, paths: { '/v1/things': { post: body({ type: 'object', properties: { id: { type: ['string', 'null'] }, kind: { const: 'a' }, n: { type: 'number', exclusiveMinimum: 0 }, pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }], items: false } } }) } } });
    const s = json.body!.media[0].schema.properties!;
    expect(s.id.types).toEqual(['string', 'null']);
    expect(s.kind.enum).toEqual(['a']);
    expect(s.n.exclusiveMinimum).toBe(0);
    expect(s.pair.prefixItems!.length).toBe(2);
    expect(s.pair.items).toBe(false);
  });
});
