import { FaceproofError } from './errors.ts';

/**
 * What a key may do, one scope per service. `admin` manages clients and keys (and sees every
 * tenant's collection names in the metrics); `metrics` reads GET /metrics, for a Prometheus scraper.
 */
export const SCOPES = ['compare', 'detect', 'quality', 'liveness', 'age', 'images', 'collections', 'users', 'sessions', 'documents', 'audit', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Parses a list of scope names ("*" = every scope), rejecting unknown ones. */
export function parseScopes(values: readonly string[], field = 'scopes'): Scope[] {
  if (values.includes('*')) return [...SCOPES];
  const unknown = values.filter((v) => !isScope(v));
  if (unknown.length) throw new FaceproofError('invalid_parameter', `unknown scope ${unknown.join(', ')}; scopes are ${SCOPES.join(', ')}`, field);
  if (values.length === 0) throw new FaceproofError('invalid_parameter', 'at least one scope is needed', field);
  return [...new Set(values as Scope[])];
}

/**
 * A credential derived from another (token, temporary credential) may only narrow what its parent
 * may do; asking for more is refused rather than silently trimmed, so the caller learns of it.
 */
export function narrowScopes(parent: readonly Scope[], requested: readonly Scope[] | undefined): Scope[] {
  if (!requested) return [...parent];
  const extra = requested.filter((s) => !parent.includes(s));
  if (extra.length) throw new FaceproofError('insufficient_scope', `the credential used does not hold ${extra.join(', ')}, so cannot grant it`, 'scopes');
  return [...requested];
}

/**
 * iDenFace's token flags (enableFace11, enableLiveness, …) and TrustVision's service names as scopes,
 * so that either vendor's request body narrows a token or a temporary credential.
 */
export const SERVICE_FLAGS: Record<string, Scope[]> = {
  enableFace11: ['compare', 'detect', 'quality'],
  enableFaceManager: ['collections', 'users', 'sessions'],
  enableImageManager: ['images'],
  enableLiveness: ['liveness'],
  verify_face_liveness: ['liveness'],
  verify_face_portrait_sanity: ['quality'],
  compare_faces: ['compare'],
  detect_faces: ['detect'],
  index_faces: ['collections'],
  search_faces: ['collections'],
  face_auth: ['users'],
  check_identity: ['age'],
  upload_image: ['images'],
  upload_file: ['images'],
  // TrustVision's identity-document services (its manual's own temporary_credential example asks
  // for read_id_card_info); tampering is not served, a known name that grants nothing.
  read_id_card_info: ['documents'],
  verify_id_card_sanity: ['documents'],
  detect_id_cards: ['documents'],
  detect_id_card_tampering: [],
  read_doc_info: ['documents'],
  verify_nfc: ['documents'],
  check_nfc: ['documents'],
  ekyc: ['documents'],
};

export function scopesFromServiceFlags(flags: Record<string, boolean>): Scope[] {
  const out = new Set<Scope>();
  for (const [flag, on] of Object.entries(flags)) {
    if (isScope(flag)) { if (on) out.add(flag); continue; }
    const scopes = SERVICE_FLAGS[flag];
    if (!scopes) throw new FaceproofError('invalid_parameter', `unknown service ${flag}`, 'services');
    if (on) scopes.forEach((s) => out.add(s));
  }
  if (out.size === 0) throw new FaceproofError('invalid_parameter', 'no service enabled', 'services');
  return [...out];
}
