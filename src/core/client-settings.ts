import { FaceproofError } from './errors.ts';

/** A client's SDK settings, as TrustVision's /v1/client_settings gives them: country, card types, settings. */
export interface ClientSettings {
  country: string;
  card_types: Array<Record<string, unknown>>;
  settings: Record<string, unknown>;
}

export interface ClientSettingsRepository {
  get(tenantId: string, clientId: string, flowId: string): Promise<ClientSettings | undefined>;
  put(tenantId: string, clientId: string, flowId: string, settings: ClientSettings, at: string): Promise<void>;
}

/**
 * What a client gets before it sets anything: what this server does. Encryption of request bodies
 * (TrustVision's AES layer) is not offered, so `enable_encryption` is false and stays so.
 */
export const DEFAULT_CLIENT_SETTINGS: ClientSettings = {
  country: 'vn',
  card_types: [],
  settings: {
    enable_compare_faces: true,
    enable_convert_pdf: true,
    enable_detect_id_card_tampering: false,
    enable_encryption: false,
    enable_face_retrieval: true,
    enable_index_faces: true,
    enable_read_id_card_info: false,
    enable_verify_face_liveness: true,
    enable_verify_id_card_sanity: false,
    enable_verify_portrait_sanity: true,
    enable_detect_id_cards: false,
    liveness_modes: ['active', 'passive'],
    scan_qr: 'none',
    selfie_camera_options: ['front'],
    selfie_enable_detect_multiple_face: true,
    support_transaction: true,
    web_app_crop_face: 'none',
    web_ui: { show_score: false },
  },
};

/** Per-client (and per flow) settings: the defaults, overlaid by what the client stored. */
export class ClientSettingsStore {
  constructor(private readonly repository: ClientSettingsRepository, private readonly now: () => Date = () => new Date()) {}

  async get(tenantId: string, clientId: string, flowId = ''): Promise<ClientSettings> {
    const own = (await this.repository.get(tenantId, clientId, flowId)) ?? (flowId ? await this.repository.get(tenantId, clientId, '') : undefined);
    return own ?? structuredClone(DEFAULT_CLIENT_SETTINGS);
  }

  /** Sets some fields: `settings` is merged key by key into the current ones, `country` and `card_types` replace. */
  async update(tenantId: string, clientId: string, flowId: string, changes: Partial<ClientSettings>): Promise<ClientSettings> {
    if (changes.settings && changes.settings.enable_encryption === true) {
      throw new FaceproofError('invalid_parameter', 'encrypted request bodies are not offered by this server: enable_encryption stays false', 'settings.enable_encryption');
    }
    const current = await this.get(tenantId, clientId, flowId);
    const next: ClientSettings = {
      country: changes.country ?? current.country,
      card_types: changes.card_types ?? current.card_types,
      settings: { ...current.settings, ...(changes.settings ?? {}) },
    };
    await this.repository.put(tenantId, clientId, flowId, next, this.now().toISOString());
    return next;
  }
}
