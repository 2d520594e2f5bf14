/**
 * The Collections page's watch-list history: every search that hit the watch-list, newest first —
 * when, which API client, which of its faces (GET /v1/collections/{name}/inquiries, 20 a page).
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ok, type FaceproofClient } from '@faceproof/client';
import { CandidateThumb, ErrorBox } from './ui.ts';

const PAGE = 20;

type Inquiry = { at: string; client_id: string; faces: Array<{ face_id: string; external_id: string | null; image_id: string | null }> };

/** `refresh` changes after each search of the page, which may have added an inquiry. */
export function WatchlistHistory({ fp, name, refresh }: { fp: FaceproofClient; name: string; refresh: number }) {
  const [items, setItems] = useState<Inquiry[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const read = async (after: string | null) => ok(await fp.GET('/v1/collections/{name}/inquiries', { params: { path: { name }, query: { limit: PAGE, ...(after ? { cursor: after } : {}) } } }));
  useEffect(() => {
    let live = true;
    setError(undefined);
    read(null).then((p) => { if (live) { setItems(p.inquiries); setCursor(p.next_cursor); } }, (err: unknown) => { if (live) setError(err); });
    return () => { live = false; };
  }, [name, refresh]);
  const more = async () => {
    setBusy(true);
    try {
      const p = await read(cursor);
      setItems([...(items ?? []), ...p.inquiries]); setCursor(p.next_cursor);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<section class="watchlist-history" aria-labelledby="watchlist-history-title">
    <h4 id="watchlist-history-title">Watch-list history</h4>
    <${ErrorBox} error=${error} />
    ${items && (items.length === 0
      ? html`<p class="help" data-testid="watchlist-empty">No search has hit this watch-list yet.</p>`
      : html`<table class="list" data-testid="watchlist-history"><caption>${items.length} search${items.length === 1 ? '' : 'es'} that hit ${name}${cursor ? ' (the newest; older ones below)' : ''}, newest first</caption>
        <thead><tr><th scope="col">When</th><th scope="col">API client</th><th scope="col">Faces matched</th></tr></thead>
        <tbody>${items.map((i) => html`<tr>
          <td><time datetime=${i.at}>${i.at.replace('T', ' ').slice(0, 19)}</time></td><td>${i.client_id}</td>
          <td><ul class="matched">${i.faces.map((f) => html`<li title=${f.face_id}><${CandidateThumb} fp=${fp} hit=${{ ...f, collection: name }} /> ${f.external_id ?? f.face_id}</li>`)}</ul></td>
        </tr>`)}</tbody></table>`)}
    ${cursor && html`<button type="button" onClick=${more} disabled=${busy}>Show older searches</button>`}
  </section>`;
}
