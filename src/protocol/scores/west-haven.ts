/**
 * West Haven hepatic encephalopathy grade, shared by the AARC score (§4.6)
 * and CLIF-C OF / EASL-CLIF (§5). Child-Pugh groups the grades into
 * categories of its own (`CtpEncephalopathy`).
 */

/** West Haven hepatic encephalopathy grade; 0 = none. A clinician input. */
export type WestHavenGrade = 0 | 1 | 2 | 3 | 4;

/** The West Haven grades, in order. */
export const WEST_HAVEN_GRADES: readonly WestHavenGrade[] = [0, 1, 2, 3, 4];
