import type { DialectDescriptor } from './dialect.ts';
import { advance } from './advance/descriptor.ts';
import { idenface } from './idenface/descriptor.ts';
import { idemia } from './idemia/descriptor.ts';
import { senseid } from './senseid/descriptor.ts';
import { trustvision } from './trustvision/descriptor.ts';

/** Every vendor API the server speaks, each under its own prefix. */
export const DIALECTS: readonly DialectDescriptor[] = [advance, senseid, idemia, idenface, trustvision];

/** The dialect a URL or route belongs to, and its path below the prefix. */
export function dialectOf(url: string): { dialect: DialectDescriptor; path: string } | undefined {
  const pathname = url.split('?')[0];
  for (const dialect of DIALECTS) {
    if (pathname === dialect.prefix || pathname.startsWith(`${dialect.prefix}/`)) return { dialect, path: pathname.slice(dialect.prefix.length) };
  }
  return undefined;
}
