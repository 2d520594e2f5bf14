/** The console's pages, each a function of the signed-in client. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { canonicalJson, multipart, ok, photo, type FaceproofClient } from '@faceproof/client';
import { base64Of, ErrorBox, errorText, Facts, FaceImage, FarCurve, fmtFar, PhotoInput, ScoreScale, Thumb, WebcamShot, CandidateThumb, type DrawnFace } from './ui.ts';
import { KeptInputs } from './audit-inputs.ts';
import { WatchlistHistory } from './watchlist-history.ts';
import { DetPlot, type Calibration } from './det-plot.ts';

type Props = { fp: FaceproofClient };

// ---------------------------------------------------------------------------------------------
// Compare

export function ComparePage({ fp }: Props) {
  const [a, setA] = useState<File>();
  const [b, setB] = useState<File>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [result, setResult] = useState<any>();
  const [faces, setFaces] = useState<{ a: DrawnFace[]; b: DrawnFace[] }>();
  const [signature, setSignature] = useState<string>();
  const [calibration, setCalibration] = useState<Calibration>();
  useEffect(() => { fp.GET('/v1/capabilities').then((r) => setCalibration(r.data?.calibration), () => undefined); }, []);

  const run = async (e: Event) => {
    e.preventDefault();
    if (!a || !b) return;
    setBusy(true); setError(undefined); setResult(undefined); setSignature(undefined);
    try {
      const detect = (f: File) => fp.POST('/v1/detect', { body: { image: photo(f) }, bodySerializer: multipart }).then(ok);
      const [r, da, db] = await Promise.all([fp.POST('/v1/compare', { body: { source: photo(a), target: photo(b) }, bodySerializer: multipart }).then(ok), detect(a), detect(b)]);
      const same = (x: { box: { x: number; y: number } }, y: { box: { x: number; y: number } } | null) => !!y && Math.abs(x.box.x - y.box.x) < 2 && Math.abs(x.box.y - y.box.y) < 2;
      const draw = (list: any[], chosen: any): DrawnFace[] => {
        const drawn: DrawnFace[] = list.map((f) => ({ box: f.box, landmarks: f.landmarks, highlight: same(f, chosen) }));
        if (chosen && !drawn.some((d) => d.highlight)) drawn.push({ box: chosen.box, landmarks: chosen.landmarks, highlight: true });
        return drawn;
      };
      setFaces({ a: draw(da.faces, r.source_face), b: draw(db.faces, r.target_face) });
      setResult(r);
      fp.verify(r).then((c) => setSignature(c.valid ? `valid (key ${c.kid})` : `INVALID: ${c.reason}`), (err) => setSignature(`not checked: ${err}`));
    } catch (err) { setError(err); } finally { setBusy(false); }
  };

  return html`<section aria-labelledby="compare-title">
    <h2 id="compare-title">Compare two photos</h2>
    <form class="pair" onSubmit=${run}>
      <${PhotoInput} id="photo-a" label="First photo" onFiles=${(fs: File[]) => setA(fs[0])} />
      <${PhotoInput} id="photo-b" label="Second photo" onFiles=${(fs: File[]) => setB(fs[0])} />
      <button type="submit" disabled=${!a || !b || busy}>${busy ? 'Comparing…' : 'Compare'}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result && html`<div class="result" aria-live="polite">
      <p class=${`decision ${result.decision}`}>Decision: <output data-testid="decision">${result.decision.replace('_', ' ')}</output></p>
      <${Facts} items=${[['score', result.score.toFixed(4)], ['false-accept rate', fmtFar(result.far)], ['similarity', result.similarity.toFixed(4)],
        ['match threshold', `${result.thresholds.match.score.toFixed(3)} (FAR ${fmtFar(result.thresholds.match.far)})`], ['uncertain threshold', `${result.thresholds.uncertain.score.toFixed(3)} (FAR ${fmtFar(result.thresholds.uncertain.far)})`],
        ['signature', signature ?? 'checking…']]} />
      <${ScoreScale} score=${result.score} uncertain=${result.thresholds.uncertain.score} match=${result.thresholds.match.score} />
      ${calibration?.det?.length
        ? html`<${DetPlot} det=${calibration.det} genuinePairs=${calibration.genuine_pairs} impostorPairs=${calibration.impostor_pairs} dataset=${calibration.dataset} thresholds=${result.thresholds} far=${result.far} />`
        // A calibration table built without its genuine side (an operator's own) has only the FAR curve.
        : calibration && html`<${FarCurve} table=${calibration.table} similarity=${result.similarity} far=${result.far} match=${result.thresholds.match.similarity} uncertain=${result.thresholds.uncertain.similarity} />`}
    </div>`}
    ${faces && a && b && html`<div class="pair-images"><${FaceImage} file=${a} faces=${faces.a} alt="First photo with its faces boxed" /><${FaceImage} file=${b} faces=${faces.b} alt="Second photo with its faces boxed" /></div>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Detect & quality

export function QualityPage({ fp }: Props) {
  const [file, setFile] = useState<File>();
  const [profile, setProfile] = useState('selfie_mobile');
  const [report, setReport] = useState<any>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const run = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true); setError(undefined); setReport(undefined);
    try {
      setReport(ok(await fp.POST('/v1/quality', { body: { image: { base64: await base64Of(file) }, profile: profile as 'selfie_mobile' } })));
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<section aria-labelledby="quality-title">
    <h2 id="quality-title">Detect & quality</h2>
    <form onSubmit=${run}>
      <${PhotoInput} id="quality-photo" label="Photo" onFiles=${(fs: File[]) => setFile(fs[0])} />
      <label for="quality-profile">Quality profile</label>
      <select id="quality-profile" value=${profile} onChange=${(e: Event) => setProfile((e.target as HTMLSelectElement).value)}>
        ${['selfie_mobile', 'selfie_desktop', 'id_document', 'comparison'].map((p) => html`<option value=${p}>${p}</option>`)}
      </select>
      <button type="submit" disabled=${!file || busy}>${busy ? 'Checking…' : 'Check'}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${report && file && html`<div class="result" aria-live="polite">
      <p class=${`decision ${report.verdict === 'good' ? 'match' : 'no_match'}`}>Verdict: <output data-testid="verdict">${report.verdict}</output> (profile ${report.profile})</p>
      <${FaceImage} file=${file} faces=${report.faces.map((f: any, i: number) => ({ box: f.box, label: `${i + 1}: ${f.verdict}`, highlight: i === 0, bad: f.verdict !== 'good' }))} alt="The photo with its faces boxed" />
      ${report.faces.map((f: any, i: number) => html`<details open=${i === 0}><summary>Face ${i + 1}: ${f.verdict}, quality ${f.quality}${f.reasons.length ? ` — ${f.reasons.join(', ')}` : ''}</summary>
        <table><caption>Measures of face ${i + 1}</caption><tbody>${Object.entries(f.measures).map(([k, v]) => html`<tr class=${f.reasons.some((r: string) => r.includes(k.split('_')[0])) ? 'flag' : ''}><th scope="row">${k}</th><td>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>`)}</tbody></table>
      </details>`)}
    </div>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Collections

export function CollectionsPage({ fp }: Props) {
  const [list, setList] = useState<any[]>([]);
  const [selected, setSelected] = useState<string>();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'gallery' | 'watchlist'>('gallery');
  const [error, setError] = useState<unknown>();
  const [progress, setProgress] = useState<{ done: number; total: number; failed: number }>();
  const [query, setQuery] = useState<File>();
  const [found, setFound] = useState<any>();
  const [keep, setKeep] = useState(false);
  const [searches, setSearches] = useState(0);
  const reload = async () => { try { setList(ok(await fp.GET('/v1/collections')).collections); } catch (err) { setError(err); } };
  useEffect(() => { void reload(); }, []);

  const create = async (e: Event) => {
    e.preventDefault(); setError(undefined);
    try { ok(await fp.POST('/v1/collections', { body: { name, kind } })); setSelected(name); setName(''); await reload(); } catch (err) { setError(err); }
  };
  const remove = async (n: string) => {
    if (!confirm(`Delete the collection ${n} and every face in it?`)) return;
    try { ok(await fp.DELETE('/v1/collections/{name}', { params: { path: { name: n } } })); if (selected === n) setSelected(undefined); await reload(); } catch (err) { setError(err); }
  };
  const add = async (files: File[]) => {
    if (!selected) return;
    setError(undefined);
    const state = { done: 0, total: files.length, failed: 0 };
    setProgress({ ...state });
    for (const f of files) {
      const external_id = f.name.replace(/\.[^.]+$/, '');
      let failed = true;
      if (keep) {
        // Kept: stored first (POST /v1/images), then indexed by its image_id, so the face carries it and search can show it.
        const stored = await fp.POST('/v1/images', { body: { image: photo(f), label: external_id }, bodySerializer: multipart });
        if (stored.data) failed = !!(await fp.POST('/v1/collections/{name}/faces', { params: { path: { name: selected } }, body: { image: { image_id: stored.data.image_id }, external_id } })).error;
      } else {
        failed = !!(await fp.POST('/v1/collections/{name}/faces', { params: { path: { name: selected } }, body: { image: photo(f), external_id }, bodySerializer: multipart })).error;
      }
      if (failed) state.failed++;
      state.done++;
      setProgress({ ...state });
    }
    await reload();
  };
  const search = async (e: Event) => {
    e.preventDefault();
    if (!selected || !query) return;
    setError(undefined); setFound(undefined);
    try { setFound(ok(await fp.POST('/v1/collections/{name}/search', { params: { path: { name: selected } }, body: { image: photo(query), max_results: 10 }, bodySerializer: multipart }))); } catch (err) { setError(err); }
    setSearches((n) => n + 1);
  };

  const current = list.find((c) => c.name === selected);
  return html`<section aria-labelledby="collections-title">
    <h2 id="collections-title">Collections</h2>
    <table class="list"><caption>Collections of this tenant</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Faces</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${list.map((c) => html`<tr class=${c.name === selected ? 'selected' : ''}>
        <td><button class="link" onClick=${() => { setSelected(c.name); setFound(undefined); setProgress(undefined); }} aria-pressed=${c.name === selected}>${c.name}</button></td><td>${c.kind}</td><td>${c.face_count}</td>
        <td><button class="danger" onClick=${() => remove(c.name)} aria-label=${`Delete ${c.name}`}>Delete</button></td></tr>`)}</tbody>
    </table>
    <form class="inline" onSubmit=${create}>
      <label for="collection-name">New collection</label>
      <input id="collection-name" required pattern="[A-Za-z0-9_.\\-]{1,64}" value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
      <label for="collection-kind">Kind</label>
      <select id="collection-kind" value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value as 'gallery')}><option value="gallery">gallery</option><option value="watchlist">watch-list</option></select>
      <button type="submit">Create</button>
    </form>
    <${ErrorBox} error=${error} />
    ${current && html`<div class="panel">
      <h3>${current.name} <small>${current.face_count} faces</small></h3>
      <label class="check"><input type="checkbox" id="keep-photos" checked=${keep} onChange=${(e: Event) => setKeep((e.target as HTMLInputElement).checked)} /> Keep the photos as stored images (search then shows each candidate's face)</label>
      <${PhotoInput} id="add-photos" label="Add photos (each file's name becomes its external id)" multiple onFiles=${add} />
      ${progress && html`<p><label for="add-progress">Added ${progress.done} of ${progress.total}${progress.failed ? `, ${progress.failed} refused` : ''}</label> <progress id="add-progress" max=${progress.total} value=${progress.done}></progress></p>`}
      <form onSubmit=${search}>
        <${PhotoInput} id="search-photo" label="Search with a photo" onFiles=${(fs: File[]) => setQuery(fs[0])} />
        <button type="submit" disabled=${!query}>Search</button>
      </form>
      ${found && html`<div class="result" aria-live="polite">
        <p>Open-set threshold in force: score ${found.threshold.score.toFixed(3)} (FAR ${fmtFar(found.threshold.far)} per comparison, ${found.threshold.basis}, gallery of ${found.threshold.gallery_faces}, expected FPIR ${fmtFar(found.threshold.expected_fpir)})</p>
        ${found.results.map((hits: any[], i: number) => html`<table class="list" data-testid="candidates"><caption>Face ${i + 1} of the photo: ${hits.length} candidate${hits.length === 1 ? '' : 's'}</caption>
          <thead><tr><th scope="col">#</th><th scope="col">External id</th><th scope="col">Face</th><th scope="col">Score</th><th scope="col">FAR</th></tr></thead>
          <tbody>${hits.map((h, j) => html`<tr><td>${j + 1}</td><td>${h.external_id ?? h.face_id}</td><td><${CandidateThumb} fp=${fp} hit=${h} /></td><td>${h.score.toFixed(4)}</td><td>${fmtFar(h.far)}</td></tr>`)}</tbody></table>`)}
      </div>`}
      ${current.kind === 'watchlist' && html`<${WatchlistHistory} fp=${fp} name=${current.name} refresh=${searches} />`}
    </div>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Users

export function UsersPage({ fp }: Props) {
  const [userId, setUserId] = useState('');
  const [file, setFile] = useState<File>();
  const [out, setOut] = useState<any>();
  const [history, setHistory] = useState<any[]>();
  const [error, setError] = useState<unknown>();
  const act = async (what: 'enrol' | 'authenticate' | 'history') => {
    setError(undefined); setOut(undefined);
    try {
      const path = { user_id: userId };
      if (what === 'enrol') setOut({ enrolled: ok(await fp.POST('/v1/users', { body: { user_id: userId, faces: [{ image: { base64: await base64Of(file!) } }] } })) });
      if (what === 'authenticate') setOut({ auth: ok(await fp.POST('/v1/users/{user_id}/authenticate', { params: { path }, body: { image: photo(file!) }, bodySerializer: multipart })) });
      const h = ok(await fp.GET('/v1/users/{user_id}/history', { params: { path } }));
      setHistory((h as any).events ?? (h as any).history ?? []);
    } catch (err) { setError(err); }
  };
  return html`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <form onSubmit=${(e: Event) => e.preventDefault()}>
      <label for="user-id">User id</label>
      <input id="user-id" required value=${userId} onInput=${(e: Event) => setUserId((e.target as HTMLInputElement).value)} />
      <${PhotoInput} id="user-photo" label="Photo" onFiles=${(fs: File[]) => setFile(fs[0])} />
      <${WebcamShot} id="user-webcam" onFrame=${setFile} />
      ${file && html`<p data-testid="user-source">Using: ${file.name}</p>`}
      ${file?.name.startsWith('webcam-') && html`<${Thumb} file=${file} alt="The photo taken with the webcam" />`}
      <div class="buttons">
        <button type="button" disabled=${!userId || !file} onClick=${() => act('enrol')}>Enrol</button>
        <button type="button" disabled=${!userId || !file} onClick=${() => act('authenticate')}>Authenticate</button>
        <button type="button" disabled=${!userId} onClick=${() => act('history')}>History</button>
      </div>
    </form>
    <${ErrorBox} error=${error} />
    ${out?.enrolled && html`<p class="decision match" role="status">Enrolled <output data-testid="user-status">${out.enrolled.user_id}</output> with ${out.enrolled.faces?.length ?? 1} face(s)</p>`}
    ${out?.auth && html`<div class="result" aria-live="polite"><p class=${`decision ${out.auth.decision}`}>Decision: <output data-testid="decision">${out.auth.decision.replace('_', ' ')}</output></p>
      <${Facts} items=${[['score', out.auth.score?.toFixed(4)], ['false-accept rate', out.auth.far !== undefined ? fmtFar(out.auth.far) : undefined]]} /></div>`}
    ${history && html`<table class="list"><caption>History of ${userId}</caption><thead><tr><th scope="col">When</th><th scope="col">What</th></tr></thead>
      <tbody>${history.map((h) => html`<tr><td>${h.at ?? ''}</td><td>${JSON.stringify(h)}</td></tr>`)}</tbody></table>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Audit

const sha256Hex = async (text: string) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** Each record's hash recomputed (SHA-256 of prev_hash ‖ RFC 8785 facts, docs/audit.md), and each link between consecutive sequence numbers. */
export async function verifyChain(records: any[], tenantId: string): Promise<{ valid: boolean; checked: number; links: number; brokenAt?: number; reason?: string }> {
  const sorted = [...records].sort((x, y) => x.seq - y.seq);
  let links = 0;
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    const facts = {
      tenantId, requestId: r.request_id, clientRequestId: r.client_request_id, clientId: r.client_id, ...(r.transaction_id ? { transactionId: r.transaction_id } : {}),
      method: r.method, route: r.route, service: r.service, status: r.status, latencyMs: r.latency_ms, inputs: r.inputs, result: r.result, at: r.at,
    };
    if (await sha256Hex(r.prev_hash + canonicalJson(facts)) !== r.hash) return { valid: false, checked: i + 1, links, brokenAt: r.seq, reason: 'this record does not hash to its hash: it was modified (or the tenant is not this one)' };
    const prev = sorted[i - 1];
    if (prev && prev.seq === r.seq - 1) {
      links++;
      if (r.prev_hash !== prev.hash) return { valid: false, checked: i + 1, links, brokenAt: r.seq, reason: 'its prev_hash is not the hash of the record before it' };
    }
  }
  return { valid: true, checked: sorted.length, links };
}

export function AuditPage({ fp }: Props) {
  const [filters, setFilters] = useState({ service: '', status: '', decision: '', from: '', to: '', transaction_id: '' });
  const [records, setRecords] = useState<any[]>();
  const [detail, setDetail] = useState<any>();
  const [tenant, setTenant] = useState('default');
  const [chain, setChain] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);

  const [cursor, setCursor] = useState<string | null>(null);

  /** The next 100 records, newest first (order=desc), from `after` on; every filter applied by the server. */
  const read = async (after: string | null) => {
    const query = {
      ...(filters.service ? { service: filters.service } : {}), ...(filters.status ? { status: Number(filters.status) } : {}), ...(filters.transaction_id ? { transaction_id: filters.transaction_id } : {}),
      ...(filters.decision ? { decision: filters.decision.trim() } : {}),
      ...(filters.from ? { from: new Date(filters.from).toISOString() } : {}), ...(filters.to ? { to: new Date(filters.to).toISOString() } : {}),
    };
    const page = ok(await fp.GET('/v1/audit/records', { params: { query: { ...query, order: 'desc', limit: 100, ...(after ? { cursor: after } : {}) } } }));
    return { found: page.records, next: page.next_cursor };
  };
  const load = async (e?: Event) => {
    e?.preventDefault();
    setLoading(true); setError(undefined); setDetail(undefined); setChain(undefined);
    try {
      const { found, next } = await read(null);
      setRecords(found); setCursor(next);
    } catch (err) { setError(err); } finally { setLoading(false); }
  };
  const more = async () => {
    setLoading(true);
    try {
      const { found, next } = await read(cursor);
      setRecords([...(records ?? []), ...found]); setCursor(next);
    } catch (err) { setError(err); } finally { setLoading(false); }
  };
  useEffect(() => { void load(); }, []);
  const field = (key: keyof typeof filters, label: string, type = 'text') => html`<div><label for=${`audit-${key}`}>${label}</label>
    <input id=${`audit-${key}`} type=${type} value=${filters[key]} onInput=${(e: Event) => setFilters({ ...filters, [key]: (e.target as HTMLInputElement).value })} /></div>`;
  const verify = async () => {
    setChain('verifying…');
    try {
      // The server walks the whole chain (GET /v1/audit/verify); the browser rehashes the records shown, independently.
      const v = ok(await fp.GET('/v1/audit/verify'));
      const r = await verifyChain(records ?? [], tenant);
      const local = r.valid ? `${r.checked} shown records rehashed in this browser, ${r.links} links checked` : `in this browser, record ${r.brokenAt}: ${r.reason}`;
      setChain(v.valid && r.valid ? `valid: the server checked ${v.chain_records} records (${v.records} of this tenant) in ${v.ms} ms; ${local}`
        : `BROKEN${v.valid ? '' : ` at record ${v.broken_at}: ${v.reason}`}${r.valid ? '' : `; ${local}`}`);
    } catch (err) { setChain(`BROKEN? the check failed: ${errorText(err)}`); }
  };
  const exportAll = async () => {
    const { data } = await fp.GET('/v1/audit/export', { parseAs: 'blob' });
    if (!data) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(data as Blob); a.download = 'audit.ndjson'; a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  return html`<section aria-labelledby="audit-title">
    <h2 id="audit-title">Audit trail</h2>
    <form class="filters" onSubmit=${load}>
      ${field('service', 'Service')}${field('decision', 'Decision or status word')}${field('status', 'HTTP status', 'number')}
      ${field('from', 'From', 'datetime-local')}${field('to', 'To', 'datetime-local')}${field('transaction_id', 'Transaction')}
      <button type="submit" disabled=${loading}>${loading ? 'Loading…' : 'Apply filters'}</button>
    </form>
    <${ErrorBox} error=${error} />
    <div class="inline">
      <label for="audit-tenant">Tenant</label><input id="audit-tenant" value=${tenant} onInput=${(e: Event) => setTenant((e.target as HTMLInputElement).value)} />
      <button type="button" onClick=${verify} disabled=${!records}>Verify the chain</button>
      <button type="button" onClick=${exportAll}>Export (NDJSON)</button>
      ${chain && html`<output data-testid="chain" class=${chain.startsWith('valid') ? 'ok' : chain.startsWith('BROKEN') ? 'error' : ''}>${chain}</output>`}
    </div>
    ${records && html`<table class="list audit"><caption>${records.length} records${cursor ? ' (the newest; older ones below)' : ''}, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Route</th><th scope="col">Status</th><th scope="col">Decision</th><th scope="col">Client</th></tr></thead>
      <tbody>${records.map((r) => html`<tr class=${detail?.seq === r.seq ? 'selected' : ''}>
        <td><button class="link" onClick=${() => setDetail(r)}>${r.at.replace('T', ' ').slice(0, 19)}</button></td><td>${r.method} ${r.route}</td><td>${r.status}</td>
        <td>${(r.result as any).decision ?? (r.result as any).status ?? (r.result as any).verdict ?? (r.result as any).error ?? ''}</td><td>${r.client_id}</td></tr>`)}</tbody>
    </table>
    ${cursor && html`<button type="button" onClick=${more} disabled=${loading}>Show older records</button>`}`}
    ${detail && html`<div class="panel" role="region" aria-label="The selected record">
      <h3>Record ${detail.seq} <small>${detail.request_id}</small></h3>
      <${Facts} items=${[['request id', detail.request_id], ['client request id', detail.client_request_id ?? undefined], ['client', detail.client_id], ['transaction', detail.transaction_id],
        ['request', `${detail.method} ${detail.route}`], ['service', detail.service], ['status', detail.status], ['latency', `${detail.latency_ms} ms`], ['at', detail.at],
        ['inputs (images as digests)', detail.inputs], ['result', detail.result], ['prev_hash', detail.prev_hash], ['hash', detail.hash]]} />
      <${KeptInputs} key=${detail.seq} fp=${fp} record=${detail} />
    </div>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Keys (admin)

const SCOPES = ['compare', 'detect', 'quality', 'liveness', 'age', 'images', 'collections', 'users', 'sessions', 'documents', 'audit', 'metrics', 'admin'] as const;
type Scope = (typeof SCOPES)[number];

export function KeysPage({ fp }: Props) {
  const [clients, setClients] = useState<any[]>();
  const [selected, setSelected] = useState<string>();
  const [keys, setKeys] = useState<any[]>();
  const [issued, setIssued] = useState<any>();
  const [newClient, setNewClient] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['compare']);
  const [error, setError] = useState<unknown>();
  const reload = async () => { try { setClients(ok(await fp.GET('/v1/admin/clients')).clients); } catch (err) { setError(err); } };
  const loadKeys = async (id: string) => { try { setSelected(id); setIssued(undefined); setKeys(ok(await fp.GET('/v1/admin/clients/{client_id}/keys', { params: { path: { client_id: id } } })).keys); } catch (err) { setError(err); } };
  useEffect(() => { void reload(); }, []);
  const create = async (e: Event) => {
    e.preventDefault(); setError(undefined);
    try { ok(await fp.POST('/v1/admin/clients', { body: { client_id: newClient } })); setNewClient(''); await reload(); await loadKeys(newClient); } catch (err) { setError(err); }
  };
  const issue = async (e: Event) => {
    e.preventDefault(); setError(undefined);
    try { setIssued(ok(await fp.POST('/v1/admin/clients/{client_id}/keys', { params: { path: { client_id: selected! } }, body: { scopes } })).key); setKeys(ok(await fp.GET('/v1/admin/clients/{client_id}/keys', { params: { path: { client_id: selected! } } })).keys); } catch (err) { setError(err); }
  };
  const revoke = async (id: string) => {
    if (!confirm(`Revoke ${id}? Requests with it stop at once.`)) return;
    try { ok(await fp.DELETE('/v1/admin/keys/{key_id}', { params: { path: { key_id: id } } })); await loadKeys(selected!); } catch (err) { setError(err); }
  };
  return html`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API clients and keys</h2>
    <${ErrorBox} error=${error} />
    ${clients && html`<table class="list"><caption>Clients</caption><thead><tr><th scope="col">Client</th><th scope="col">Tenant</th><th scope="col">Status</th><th scope="col">Rate</th></tr></thead>
      <tbody>${clients.map((c) => html`<tr class=${c.client_id === selected ? 'selected' : ''}><td><button class="link" onClick=${() => loadKeys(c.client_id)}>${c.client_id}</button></td><td>${c.tenant_id}</td><td>${c.status}</td><td>${c.rate_per_second ?? '—'}</td></tr>`)}</tbody></table>`}
    <form class="inline" onSubmit=${create}><label for="new-client">New client id</label><input id="new-client" required pattern="[a-z0-9][a-z0-9_.\\-]*" value=${newClient} onInput=${(e: Event) => setNewClient((e.target as HTMLInputElement).value)} /><button type="submit">Create client</button></form>
    ${selected && keys && html`<div class="panel"><h3>Keys of ${selected}</h3>
      <table class="list"><caption>Keys (secrets are never shown again)</caption><thead><tr><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${keys.map((k) => html`<tr><td>${k.key_id}</td><td>${k.scopes.join(', ')}</td><td>${k.revoked_at ? 'revoked' : k.status ?? 'active'}</td><td>${!k.revoked_at && html`<button class="danger" onClick=${() => revoke(k.key_id)} aria-label=${`Revoke ${k.key_id}`}>Revoke</button>`}</td></tr>`)}</tbody></table>
      <form onSubmit=${issue}><fieldset><legend>Scopes of a new key</legend>
        ${SCOPES.map((s) => html`<label class="check"><input type="checkbox" checked=${scopes.includes(s)} onChange=${(e: Event) => setScopes((e.target as HTMLInputElement).checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> ${s}</label>`)}
      </fieldset><button type="submit" disabled=${!scopes.length}>Create key</button></form>
      ${issued && html`<p class="secret" role="status">New key — copy it now, it is shown once: <code data-testid="api-key">${issued.api_key}</code></p>`}
    </div>`}
  </section>`;
}
