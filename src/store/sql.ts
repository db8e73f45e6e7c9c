/** Small SQL builders shared by the store modules. */

/**
 * Builds `($1,$2,..),($n..)` for a multi-row INSERT; multi-row INSERT is ~8x
 * faster than one statement per row (README "Benchmark"), so the hot paths batch.
 */
export function valuesList(rows: readonly (readonly unknown[])[], casts: readonly string[] = []): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const ph = row.map((v, i) => {
      params.push(v);
      return `$${params.length}${casts[i] ? `::${casts[i]}` : ''}`;
    });
    return `(${ph.join(',')})`;
  });
  return { sql: tuples.join(','), params };
}

/** Splits work into chunks so one statement stays well under PostgreSQL's 65535-parameter limit. */
export function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/**
 * A WHERE clause built one optional equality at a time, after an optional scope
 * condition (a principal's trial/site scope from http/scope.ts `scopeSql`, whose
 * parameters start at $1). `eq` skips undefined values.
 */
export function filters(scope?: { sql: string; params: readonly unknown[] }): { params: unknown[]; where: string[]; eq(col: string, v: string | undefined): void } {
  const params: unknown[] = [...(scope?.params ?? [])];
  const where: string[] = [scope?.sql ?? 'TRUE'];
  return {
    params,
    where,
    eq(col, v) {
      if (v === undefined) return;
      params.push(v);
      where.push(`${col} = $${params.length}`);
    },
  };
}
