import { HISTORY_WINDOWS, type SearchHit } from './collections.ts';

/** What a watch-list knows of one query face over a window of days (TrustVision's alert history). */
export interface AlertWindow {
  days: number;
  /** Matched watch-list faces indexed within the window. */
  suspectFaces: number;
  /** Distinct API clients that indexed those faces. */
  suspectClients: number;
  /** Earlier inquiries that matched this person within the window (the most over its matched faces, as one inquiry matches them all). */
  inquiries: number;
  /** Distinct clients behind those inquiries (the most over its matched faces). */
  inquiryClients: number;
}

const DAY_MS = 86_400_000;

/**
 * Sums a query face's watch-list hits per window: the faces indexed within it and the clients who
 * indexed them, and the earlier inquiries of the person (CollectionService.search attaches each hit's).
 * Hits outside watch-lists carry no history and count only as suspect faces if they are in one.
 */
export function alertWindows(hits: SearchHit[], now: Date, windows: number[] = HISTORY_WINDOWS): AlertWindow[] {
  const watched = hits.filter((h) => h.history !== undefined);
  return windows.map((days) => {
    const since = now.getTime() - days * DAY_MS;
    const recent = watched.filter((h) => Date.parse(h.face.createdAt) >= since);
    const of = (h: SearchHit) => h.history!.find((w) => w.days === days);
    return {
      days,
      suspectFaces: recent.length,
      suspectClients: new Set(recent.map((h) => h.face.indexedBy).filter(Boolean)).size,
      inquiries: Math.max(0, ...watched.map((h) => of(h)?.inquiries ?? 0)),
      inquiryClients: Math.max(0, ...watched.map((h) => of(h)?.clients ?? 0)),
    };
  });
}
