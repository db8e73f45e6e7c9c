/**
 * Minimal typings for @lhncbc/ucum-lhc 7.x (the package ships none). Only the calls
 * src/mapping/units.ts makes are declared; both report failure in `status`, not by throwing.
 */
declare module '@lhncbc/ucum-lhc' {
  export interface UcumValidation {
    readonly status: 'valid' | 'invalid' | 'error';
    readonly ucumCode: string | null;
    readonly msg: string[];
  }
  export interface UcumConversion {
    readonly status: 'succeeded' | 'failed' | 'error';
    readonly toVal: number | null;
    readonly msg: string[];
  }
  export interface UcumConvertOptions {
    suggest?: boolean;
    molecularWeight?: number;
    charge?: number;
  }
  export class UcumLhcUtils {
    static getInstance(): UcumLhcUtils;
    validateUnitString(unit: string, suggest?: boolean, valConv?: 'validate' | 'convert'): UcumValidation;
    convertUnitTo(from: string, value: number, to: string, options?: UcumConvertOptions): UcumConversion;
  }
}
