/**
 * Turns the SWIFT IBAN registry CSV (`reference/iban/registry.csv`) into the compact spec the IBAN
 * kernel loads (`Registry::load` in `wasm/src/iban.rs`): one line per country, `CC,iban_length,bban_format`,
 * e.g. `GB,22,4!a6!n8!n`. Only the three columns the kernel needs are kept; the kernel validates their
 * content (and names the first bad line, which is the same as the CSV's data record of that number).
 */
import { SluiceError } from './errors.ts';

const COLUMNS = ['country_code', 'iban_length', 'bban_format'] as const;

/**
 * Splits CSV text into records of fields (RFC 4180: fields may be double-quoted, a quoted field may hold
 * commas, line breaks and `""` for a quote; lines end in LF or CRLF). Blank lines are skipped.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endRecord = () => {
    record.push(field);
    if (record.length > 1 || record[0] !== '') records.push(record);
    record = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n') endRecord();
    else if (ch !== '\r') field += ch;
    i++;
  }
  if (quoted) throw new SluiceError('REFERENCE_DATA_INVALID', 'IBAN registry CSV: unterminated quoted field');
  if (field !== '' || record.length > 0) endRecord();
  return records;
}

/**
 * The kernel's registry spec from the registry CSV text: a header row naming at least `country_code`,
 * `iban_length` and `bban_format` (in any order), then one record per country. Fields are trimmed.
 * Lines are joined with `\n`, with a final `\n`. Throws `REFERENCE_DATA_INVALID` when a column is missing,
 * a record is too short, or there is no country at all.
 */
export function registrySpecFromCsv(csvText: string): string {
  const [header, ...rows] = parseCsv(csvText.replace(/^\uFEFF/, ''));
  if (!header) throw new SluiceError('REFERENCE_DATA_INVALID', 'IBAN registry CSV is empty');
  const names = header.map((h) => h.trim().toLowerCase());
  const at = COLUMNS.map((c) => {
    const i = names.indexOf(c);
    if (i < 0) throw new SluiceError('REFERENCE_DATA_INVALID', `IBAN registry CSV has no "${c}" column`);
    return i;
  });
  if (rows.length === 0)
    throw new SluiceError('REFERENCE_DATA_INVALID', 'IBAN registry CSV lists no country');
  const lines = rows.map((row, r) => {
    const fields = at.map((i) => row[i]?.trim());
    if (fields.some((f) => f === undefined)) {
      throw new SluiceError('REFERENCE_DATA_INVALID', `IBAN registry CSV record ${r + 1} has too few fields`);
    }
    return fields.join(',');
  });
  return `${lines.join('\n')}\n`;
}
