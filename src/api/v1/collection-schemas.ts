import { Type, type Static } from '@sinclair/typebox';
import { AutoRotate, Envelope, Signed, ImageInput, Metadata, QualityProfileOption } from './schemas.ts';

/** Schemas of collections, 1:N search, users and sessions. */

export const Name = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Letters, digits, _ . -; at most 64' });
export const ExternalId = Type.String({ minLength: 1, maxLength: 256, description: 'Your identifier for the person' });
export const Template = Type.String({ minLength: 1, maxLength: 16_384, description: 'A template returned by /v1/detect' });
export const BoxSchema = Type.Object({ x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() });
export const Cursor = Type.String({ pattern: '^[0-9]{1,19}$', description: 'next_cursor of the previous page' });

export const CollectionParams = Type.Object({ name: Name });
export const CollectionFaceParams = Type.Object({ name: Name, face_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const CreateCollectionBody = Type.Object({
  name: Name,
  kind: Type.Optional(Type.Union([Type.Literal('gallery'), Type.Literal('watchlist')], {
    default: 'gallery', description: 'A watch-list records every search that hits it and reports each hit’s history',
  })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false });

export const CollectionSchema = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  description: Type.Union([Type.Null(), Type.String()]),
  metadata: Metadata,
  face_count: Type.Integer(),
  template: Type.Object({ model_id: Type.String(), version: Type.Integer(), dimension: Type.Integer() }),
  created_at: Type.String(),
});
export const CollectionResponse = Type.Object({ ...Envelope, ...CollectionSchema.properties });
export const CollectionListResponse = Type.Object({ ...Envelope, collections: Type.Array(CollectionSchema) });

/** Exactly one of image or template. */
const ImageOrTemplate = {
  image: Type.Optional(ImageInput),
  template: Type.Optional(Template),
};

export const IndexFacesBody = Type.Object({
  ...ImageOrTemplate,
  external_id: Type.Optional(ExternalId),
  metadata: Type.Optional(Metadata),
  all_faces: Type.Optional(Type.Boolean({ default: false, description: 'Index every face of the image, not only the largest' })),
  auto_rotate: Type.Optional(AutoRotate),
  quality_profile: Type.Optional(QualityProfileOption),
}, { additionalProperties: false });

export const FileField = Type.Unsafe<Buffer>({ format: 'binary', description: 'The image file' });

export const IndexFacesMultipartBody = Type.Object({
  image: FileField,
  external_id: Type.Optional(ExternalId),
  metadata: Type.Optional(Type.String({ description: 'A JSON object, as text' })),
  all_faces: Type.Optional(Type.Boolean()),
  auto_rotate: Type.Optional(Type.Boolean()),
  quality_profile: Type.Optional(QualityProfileOption),
});

export const IndexTemplatesBody = Type.Object({
  faces: Type.Array(Type.Object({ template: Template, external_id: Type.Optional(ExternalId), metadata: Type.Optional(Metadata) }, { additionalProperties: false }),
    { minItems: 1, maxItems: 1000 }),
}, { additionalProperties: false });

export const StoredFaceSchema = Type.Object({
  face_id: Type.String(),
  external_id: Type.Union([Type.Null(), Type.String()]),
  metadata: Metadata,
  box: Type.Union([Type.Null(), BoxSchema]),
  image_id: Type.Union([Type.Null(), Type.String()], { description: 'The stored image the face was indexed from' }),
  created_at: Type.String(),
});
export const IndexFacesResponse = Type.Object({ ...Envelope, faces: Type.Array(StoredFaceSchema) });
export const FaceResponse = Type.Object({ ...Envelope, ...StoredFaceSchema.properties });
export const FaceListResponse = Type.Object({
  ...Envelope,
  faces: Type.Array(StoredFaceSchema),
  next_cursor: Type.Union([Type.Null(), Type.String()], { description: 'Pass as cursor for the next page; null on the last' }),
});

export const ListFacesQuery = Type.Object({
  external_id: Type.Optional(ExternalId),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Cursor),
}, { additionalProperties: false });

export const FindFacesBody = Type.Object({
  // Values are checked in the route: a union schema would let the validator's type coercion turn true into "true".
  metadata: Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.Unknown({ description: 'A string, number, boolean or null' }), {
    description: 'Faces whose metadata has every one of these top-level fields with exactly this value',
  }),
  external_id: Type.Optional(ExternalId),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Cursor),
}, { additionalProperties: false });

export const DeleteFacesBody = Type.Object({
  face_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 10_000 })),
  external_ids: Type.Optional(Type.Array(ExternalId, { minItems: 1, maxItems: 10_000 })),
  all: Type.Optional(Type.Literal(true, { description: 'Delete every face of the collection' })),
}, { additionalProperties: false, minProperties: 1, maxProperties: 1 });
export const DeletedResponse = Type.Object({ ...Envelope, deleted: Type.Integer() });

export const InquiriesQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,600}$', description: 'next_cursor of the previous page' })),
}, { additionalProperties: false });

export const InquiriesResponse = Type.Object({
  ...Envelope,
  collection: Type.String(),
  kind: Type.String({ description: 'Only a watchlist records inquiries; a gallery’s list is always empty' }),
  inquiries: Type.Array(Type.Object({
    at: Type.String({ description: 'When the search was answered' }),
    client_id: Type.String({ description: 'The API client that searched' }),
    faces: Type.Array(Type.Object({
      face_id: Type.String(),
      external_id: Type.Union([Type.Null(), Type.String()]),
      image_id: Type.Union([Type.Null(), Type.String()], { description: 'The stored image the face was indexed from' }),
    }), { description: 'The faces of this watch-list among the search’s results' }),
  }, { title: 'WatchlistInquiry' }), { description: 'Newest first' }),
  next_cursor: Type.Union([Type.Null(), Type.String()], { description: 'Pass as cursor for the next (older) page; null on the last' }),
});

const SearchOptions = {
  ...ImageOrTemplate,
  max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  max_far: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Per-comparison false-accept rate a candidate may have at most; 1 ranks without a threshold' })),
  min_score: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Lowest calibrated score of a candidate (instead of max_far)' })),
  all_faces: Type.Optional(Type.Boolean({ default: true, description: 'Search with every face of the image (one result list each) or only the largest' })),
  auto_rotate: Type.Optional(AutoRotate),
};
export const SearchBody = Type.Object(SearchOptions, { additionalProperties: false });
export const SearchMultipartBody = Type.Object({
  image: FileField,
  max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  max_far: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  min_score: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  all_faces: Type.Optional(Type.Boolean()),
  auto_rotate: Type.Optional(Type.Boolean()),
});

export const MultiSearchBody = Type.Object({
  collections: Type.Array(Name, { minItems: 1, maxItems: 32, description: 'Collections searched together, as one gallery' }),
  ...SearchOptions,
}, { additionalProperties: false });

const HitSchema = Type.Object({
  face_id: Type.String(),
  external_id: Type.Union([Type.Null(), Type.String()]),
  collection: Type.String(),
  score: Type.Number({ description: 'Calibrated 0..1: −log10(FAR)/6' }),
  far: Type.Number({ description: 'Estimated false-accept rate of this one comparison' }),
  similarity: Type.Number(),
  metadata: Metadata,
  image_id: Type.Union([Type.Null(), Type.String()]),
  history: Type.Optional(Type.Array(Type.Object({ days: Type.Integer(), inquiries: Type.Integer(), clients: Type.Integer() }), {
    description: 'Watch-lists: earlier searches that matched this face in the last 1, 7, 30 and 180 days, and how many distinct clients made them',
  })),
});

export const SearchResponse = Type.Object({
  ...Envelope,
  ...Signed,
  results: Type.Array(Type.Array(HitSchema), { description: 'One list per face of the query (largest first), best first' }),
  query_faces: Type.Array(Type.Object({ box: Type.Union([Type.Null(), BoxSchema]) })),
  threshold: Type.Object({
    basis: Type.String({ description: 'fpir (default: follows the gallery size), max_far or min_score' }),
    score: Type.Number(),
    similarity: Type.Number(),
    far: Type.Number({ description: 'Per-comparison false-accept rate at the threshold' }),
    gallery_faces: Type.Integer(),
    expected_fpir: Type.Number({ description: 'Chance that someone enrolled nowhere in the gallery gets a candidate' }),
    extrapolated: Type.Boolean({ description: 'The FAR lies below what the calibration measured and was extrapolated' }),
  }),
});

export type SearchJson = Static<typeof SearchBody>;
export type MultiSearchJson = Static<typeof MultiSearchBody>;
