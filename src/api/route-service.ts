import { isScope, type Scope } from '../core/scopes.ts';
import { dialectOf } from './dialects/registry.ts';

const SERVICES = ['compare', 'detect', 'quality', 'liveness', 'age', 'images', 'files', 'collections', 'users', 'sessions', 'documents', 'audit', 'admin', 'auth', 'transactions', 'usage', 'metrics'];

/**
 * Which service a route belongs to, from its first path segment (a vendor dialect's own mapping
 * below its prefix): what its scope, audit records and usage count by.
 */
export function serviceOf(route: string): string {
  if (route === '/metrics') return 'metrics';
  const vendor = dialectOf(route);
  if (vendor) return vendor.dialect.serviceOf(vendor.path);
  const first = /^\/v1\/([a-z]+)/.exec(route)?.[1] ?? 'system';
  if (first === 'search') return 'collections';
  return SERVICES.includes(first) ? first : 'system';
}

/** The scope a service needs; undefined: any valid credential (tokens, transactions, system routes). */
export function scopeOf(service: string): Scope | undefined {
  if (service === 'files') return 'images';
  if (service === 'usage') return 'audit';
  return isScope(service) ? service : undefined;
}
