/**
 * AdminData: the users that audit records and signatures name, the sites, and one
 * SignatureDef per signature meaning used (ODM 1.3.2 XSD sequence User*, Location*,
 * SignatureDef*). A file with ClinicalData must carry the administrative data its
 * audit and signature records reference (ODM 1.3.2 "Single Files and Collections").
 */
import type { ExportUser } from '../model';
import type { OdmContext } from './context';
import { nonEmpty } from './metadata';
import { METADATA_VERSION_OID } from './oids';
import type { XmlWriter } from './xml';

/**
 * What an electronic signature in this file is, for the receiving system's records
 * (21 CFR Part 11 §11.50 signature manifestations, §11.70 signature/record linking,
 * §11.200(a) signing by re-authentication).
 */
export const SIGNATURE_LEGAL_REASON =
  'Electronic signature under 21 CFR Part 11: the signer re-authenticated to sign (11.200(a)); the signature shows the printed name, date and time and this meaning (11.50) and is linked to the signed CRF data (11.70).';

/** ODM UserType for a trialbridge role: investigators sign, everyone else (data managers, the pipeline) is Other. */
function userType(u: ExportUser): 'Investigator' | 'Other' {
  return u.role === 'investigator' ? 'Investigator' : 'Other';
}

/** UTC date of an ISO instant (Location MetaDataVersionRef EffectiveDate). */
const utcDate = (iso: string): string => new Date(iso).toISOString().slice(0, 10);

export function writeAdminData(w: XmlWriter, c: OdmContext): void {
  w.open('AdminData', [['StudyOID', c.ds.study.trial]]);
  for (const u of c.users) {
    w.open('User', [['OID', c.userOid.get(u.id)], ['UserType', userType(u)]]);
    w.text('LoginName', u.id);
    w.text('FullName', nonEmpty(u.name, u.id));
    for (const site of c.userSites.get(u.id) ?? []) w.empty('LocationRef', [['LocationOID', c.siteOid.get(site)]]);
    w.close('User');
  }
  // The metadata of this file is the version in force at every site as of the data it carries.
  const effective = utcDate(c.ds.asOf);
  for (const site of c.sites) {
    w.open('Location', [['OID', c.siteOid.get(site)], ['Name', site], ['LocationType', 'Site']]);
    w.empty('MetaDataVersionRef', [['StudyOID', c.ds.study.trial], ['MetaDataVersionOID', METADATA_VERSION_OID], ['EffectiveDate', effective]]);
    w.close('Location');
  }
  for (const meaning of c.meanings) {
    w.open('SignatureDef', [['OID', c.meaningOid.get(meaning)], ['Methodology', 'Electronic']]);
    w.text('Meaning', meaning);
    w.text('LegalReason', SIGNATURE_LEGAL_REASON);
    w.close('SignatureDef');
  }
  w.close('AdminData');
}
