/**
 * The OIDs of an ODM export. They are stable across files so a transactional file
 * continues the one before it (ODM 1.3.2 "Single Files and Collections": a file
 * may rely on definitions sent earlier in the series):
 *
 * | element            | OID                          |
 * |--------------------|------------------------------|
 * | Study              | the trial key                |
 * | MetaDataVersion    | `MDV.1`                      |
 * | StudyEventDef      | `SE.<visit>` (SE.W4, SE.UNS) |
 * | FormDef            | `F.<form>`                   |
 * | ItemGroupDef       | `IG.<form>`                  |
 * | ItemDef            | `IT.<form>.<item>`           |
 * | CodeList           | `CL.<form>.<item>`           |
 * | MeasurementUnit    | `MU.<UCUM code, sanitised>`  |
 * | User               | `USR.<user id, sanitised>`   |
 * | Location           | `LOC.<site id, sanitised>`   |
 * | SignatureDef       | `SD.<meaning, sanitised>`    |
 *
 * Visit, form and item codes come from validated trial and CRF files and are used as
 * they are. Free strings (UCUM codes such as `10*9/L`, user ids, meanings) are
 * sanitised to letters, digits, `.` and `-`, runs of anything else becoming `_`
 * (`%` reads `pct`); when two different strings would share an OID, each of them gets a
 * hash of its own text appended, so the OID of a string never depends on the others
 * unless they collide.
 */
import { createHash } from 'node:crypto';

export const METADATA_VERSION_OID = 'MDV.1';

export const studyEventOid = (visit: string): string => `SE.${visit}`;
export const formOid = (form: string): string => `F.${form}`;
export const itemGroupOid = (form: string): string => `IG.${form}`;
export const itemOid = (form: string, item: string): string => `IT.${form}.${item}`;
export const codeListOid = (form: string, item: string): string => `CL.${form}.${item}`;

/** A free string as an OID part: letters, digits, `.` and `-`; `%` as `pct`; other runs as `_`. */
export function oidPart(s: string): string {
  const t = s.replace(/%/g, 'pct').replace(/[^A-Za-z0-9.-]+/g, '_').replace(/^_+|_+$/g, '');
  return t === '' ? '_' : t;
}

function shortHash(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 8);
}

/** OIDs of one kind (prefix) for a known set of strings, unique within the set. */
export class OidMap {
  private readonly oids = new Map<string, string>();

  constructor(
    private readonly prefix: string,
    sources: Iterable<string>,
  ) {
    const byPart = new Map<string, string[]>();
    for (const s of new Set(sources)) {
      const part = oidPart(s);
      const same = byPart.get(part);
      if (same) same.push(s);
      else byPart.set(part, [s]);
    }
    for (const [part, same] of byPart) for (const s of same) this.oids.set(s, `${prefix}.${same.length > 1 ? `${part}-${shortHash(s)}` : part}`);
  }

  /** The OID of a string of the set; a string outside it is a writer bug. */
  get(s: string): string {
    const oid = this.oids.get(s);
    if (oid === undefined) throw new Error(`ODM writer: no ${this.prefix} OID was assigned for this ${this.prefix} entry`);
    return oid;
  }
}
