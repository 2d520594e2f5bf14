import type { CollectionService } from './collections.ts';
import type { ImageStore } from './image-store.ts';
import type { SessionService } from './sessions.ts';
import type { UserService } from './users.ts';

/**
 * Right to erasure for a stored image: deleting it also deletes every template made from it, in
 * collections, users' enrolments and sessions. (An image that merely expires under its retention
 * keeps its templates: retention limits how long the photo is kept, not the enrolment.)
 */
export class ImageErasure {
  constructor(
    private readonly images: ImageStore,
    private readonly collections: CollectionService,
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

  async erase(tenantId: string, imageId: string): Promise<{ templates: number }> {
    await this.images.describe(tenantId, imageId);
    const templates = (await this.collections.eraseImage(tenantId, imageId)) + (await this.users.eraseImage(tenantId, imageId)) + (await this.sessions.eraseImage(tenantId, imageId));
    await this.images.delete(tenantId, imageId);
    return { templates };
  }
}
