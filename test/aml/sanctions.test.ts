/**
 * SANCTIONS_MATCH: the OFSI and OFAC SDN parsers on the shipped (fictional) test lists, screening
 * through the WASM kernel (every list name and its accent, case, order, honorific, punctuation and
 * one-typo variants are found; unrelated names are not), and reloads that fail keeping the list in
 * force.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nameSimilarity, normaliseName } from '../../engine/aml/name-match.ts';
import {
  DEFAULT_SANCTIONS_PATHS,
  detectFormat,
  parseOfacSdnCsv,
  parseOfsiCsv,
  parseSanctionsFile,
  type SanctionsEntry,
  SanctionsList,
  type SanctionsReloadEvent,
  SanctionsScreen,
} from '../../engine/aml/sanctions.ts';
import { SluiceError } from '../../engine/errors.ts';
import { utf8Column } from '../../engine/generator.ts';

const [OFSI_PATH, SDN_PATH] = DEFAULT_SANCTIONS_PATHS as [string, string];
const ofsiText = readFileSync(OFSI_PATH, 'utf8');
const sdnText = readFileSync(SDN_PATH, 'utf8');
const ofsi = parseOfsiCsv(ofsiText);
const sdn = parseOfacSdnCsv(sdnText);
const entries: SanctionsEntry[] = [...ofsi, ...sdn];
const screen = new SanctionsScreen(entries);

function screenAll(names: string[], threshold = 0.9) {
  const r = screen.screen(utf8Column(names), names.length, threshold);
  return names.map((name, i) => {
    const e = r.entry[i] as number;
    return {
      name,
      similarity: (r.similarity[i] as number) / 10_000,
      id: e >= 0 ? screen.entryAt(e)?.id : undefined,
    };
  });
}

const stripAccents = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '');
const tokens = (s: string) => s.split(/[^\p{L}\p{N}]+/u).filter((t) => t !== '');

/** One typo of `kind` in the longest token of `name`. */
function typo(name: string, kind: number): string {
  const ts = tokens(stripAccents(name));
  let at = 0;
  ts.forEach((t, i) => {
    if (t.length > (ts[at] as string).length) at = i;
  });
  const t = ts[at] as string;
  const m = Math.floor(t.length / 2);
  const changed = [
    `${t.slice(0, m - 1)}${t[m]}${t[m - 1]}${t.slice(m + 1)}`, // swap two neighbours
    `${t.slice(0, m)}${t[m] === 'x' ? 'z' : 'x'}${t.slice(m + 1)}`, // substitute one
    `${t.slice(0, m)}${t.slice(m + 1)}`, // drop one
    `${t.slice(0, m)}e${t.slice(m)}`, // add one
  ][kind % 4] as string;
  ts[at] = changed;
  return ts.join(' ');
}

describe('OFSI consolidated list parser', () => {
  it('reads every row of the shipped list as a name of its group, given names before the surname', () => {
    expect(ofsi).toHaveLength(27);
    expect(ofsi.every((e) => e.source === 'OFSI' && /^OFSI:901\d\d$/.test(e.id))).toBe(true);
    const names = ofsi.map((e) => e.name);
    for (const n of [
      'Viktor Aleksandrovich DRAGANOV',
      'Zoltán KEMÉNYI',
      'Amira Hassan EL-FAROUK',
      'Jean-Baptiste MOREAU-LEFÈVRE',
      'GOLDEN CRESCENT EXCHANGE',
    ]) {
      expect(names).toContain(n);
    }
    // Aliases share their group's id; the title column is not part of the name.
    expect(ofsi.filter((e) => e.id === 'OFSI:90101').map((e) => e.name)).toEqual([
      'Viktor Aleksandrovich DRAGANOV',
      'Victor DRAGANOV',
    ]);
    expect(names.some((n) => /^(Mr|Dr|Prof|Sheikh) /.test(n))).toBe(false);
  });

  it('finds columns by header name, whatever their order and number', () => {
    const text =
      'Last Updated,01/01/2026\nGroup ID,Title,Name 1,Name 2,Name 3,Name 4,Name 5,Name 6\n7,Mr,Ann,,,,,LEE\n';
    expect(parseOfsiCsv(text)).toEqual([{ id: 'OFSI:7', name: 'Ann LEE', source: 'OFSI' }]);
  });

  it('refuses a file without the name header, and a name without a group id', () => {
    expect(() => parseOfsiCsv('Last Updated,01/01/2026\nfoo,bar\n')).toThrow(SluiceError);
    expect(() =>
      parseOfsiCsv('Last Updated,x\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5,Group ID\nLEE,Ann,,,,,\n'),
    ).toThrow(/no Group ID/);
  });
});

describe('OFAC SDN parser', () => {
  it('reads every entry of the shipped list, individuals as First LAST, with the aliases in the remarks', () => {
    const ids = new Set(sdn.map((e) => e.id));
    expect(ids.size).toBe(25);
    expect(sdn.length).toBeGreaterThan(25);
    expect(sdn.every((e) => e.source === 'OFAC')).toBe(true);
    const names = sdn.map((e) => e.name);
    for (const n of [
      'Ruslan Timurovich BEKOV',
      'Marisol QUINTERO VARGAS',
      'Hamid Reza TAVAKOLI',
      'Oksana PETRENKO',
      'NORTHWIND MARITIME TRADING LLC',
      'SEA FALCON',
    ]) {
      expect(names).toContain(n);
    }
    expect(sdn.filter((e) => e.id === 'OFAC:36001').map((e) => e.name)).toEqual([
      'Ruslan Timurovich BEKOV',
      'Ruslan BEKOV',
    ]);
    // An entity's alias keeps its commas and order; f.k.a. counts as an alias.
    expect(sdn.filter((e) => e.id === 'OFAC:36005').map((e) => e.name)).toEqual([
      'NORTHWIND MARITIME TRADING LLC',
      'NORTHWIND MARITIME',
      'NORTH WIND SHIPPING AND TRADING L.L.C.',
    ]);
  });

  it('skips the closing Ctrl-Z line and refuses a line that is not an entry', () => {
    expect(sdnText.includes('\x1a')).toBe(true);
    expect(() => parseOfacSdnCsv('12,"A, B","individual"\nhello,world,x\n')).toThrow(/entity number/);
  });
});

describe('format detection', () => {
  it('tells OFSI from OFAC by content and refuses anything else', () => {
    expect(detectFormat(ofsiText)).toBe('OFSI');
    expect(detectFormat(`\uFEFF${ofsiText}`)).toBe('OFSI');
    expect(detectFormat(sdnText)).toBe('OFAC');
    expect(detectFormat('name,amount\nx,1\n')).toBeNull();
    expect(parseSanctionsFile(sdnText)).toEqual(sdn);
    expect(() => parseSanctionsFile('name,amount\nx,1\n')).toThrow(SluiceError);
  });
});

describe('screening through WASM', () => {
  it('normalises accents, case, punctuation, honorifics and order away', () => {
    expect(screen.normalise('Dr. Jean-Baptiste MOREAU-LEFÈVRE')).toBe('baptiste jean lefevre moreau');
    expect(screen.normalise('Herr Øystein Ærø-Strauß, Sheikh')).toBe('aero herr oystein strauss');
    expect(screen.similarity('Zoltán KEMÉNYI', 'kemenyi, ZOLTAN')).toBe(1);
  });

  it('agrees with the plain-JS statement of the rule (engine/aml/name-match.ts)', () => {
    const rows = [
      ...entries.flatMap((e) => [0, 1, 2, 3].map((k) => typo(e.name, k))),
      'Herr Øystein Ærø-Strauß, Sheikh',
      'Doctor Hamid Reza TAVAKOLI (Hajji)',
      'Zoltán KEMÉNYI',
      'Draganov',
    ];
    for (const n of [...entries.map((e) => e.name), ...rows]) {
      expect(normaliseName(n).join(' '), n).toBe(screen.normalise(n));
    }
    for (const e of entries) {
      for (const row of rows) expect(nameSimilarity(e.name, row), row).toBe(screen.similarity(e.name, row));
    }
  });

  it('matches every list name exactly, and each to an entry of its own group', () => {
    const hits = screenAll(entries.map((e) => e.name));
    hits.forEach((h, i) => {
      expect(h.similarity, h.name).toBe(1);
      expect(h.id, h.name).toBe(entries[i]?.id);
    });
  });

  it('matches accent, case, order, honorific and punctuation variants of every list name', () => {
    const variants: { row: string; id: string }[] = [];
    for (const e of entries) {
      const ts = tokens(e.name);
      variants.push({ row: stripAccents(e.name).toUpperCase(), id: e.id });
      variants.push({ row: e.name.toLowerCase(), id: e.id });
      variants.push({ row: [...ts].reverse().join(' '), id: e.id });
      variants.push({ row: `Dr. ${ts.join(', ')}`, id: e.id });
      variants.push({ row: `Mrs ${ts.join('-')} (Sheikh)`, id: e.id });
    }
    const hits = screenAll(variants.map((v) => v.row));
    hits.forEach((h, i) => {
      expect(h.similarity, h.name).toBe(1);
      expect(h.id, h.name).toBe(variants[i]?.id);
    });
  });

  it('matches a one-typo variant (swap, substitution, deletion, insertion) of every list name', () => {
    const variants: { row: string; id: string }[] = [];
    for (const e of entries) for (let k = 0; k < 4; k++) variants.push({ row: typo(e.name, k), id: e.id });
    const hits = screenAll(variants.map((v) => v.row));
    hits.forEach((h, i) => {
      expect(h.similarity, h.name).toBeGreaterThanOrEqual(0.9);
      expect(h.id, h.name).toBe(variants[i]?.id);
    });
  });

  it('finds the names another engineer plants in generated data', () => {
    const hits = screenAll([
      'Viktor Aleksandrovich Draganov',
      'Zoltán Keményi',
      'Amira Hassan El-Farouk',
      'Jean-Baptiste Moreau-Lefèvre',
      'Golden Crescent Exchange',
      'Ruslan Timurovich Bekov',
      'Marisol Quintero Vargas',
      'Hamid Reza Tavakoli',
      'Oksana Petrenko',
      'Northwind Maritime Trading LLC',
    ]);
    expect(hits.map((h) => h.id)).toEqual([
      'OFSI:90101',
      'OFSI:90102',
      'OFSI:90103',
      'OFSI:90104',
      'OFSI:90105',
      'OFAC:36001',
      'OFAC:36002',
      'OFAC:36003',
      'OFAC:36004',
      'OFAC:36005',
    ]);
  });

  it('does not match unrelated names, single surnames, nulls or empty names', () => {
    const unrelated = [
      'John Smith',
      'Mary Jones',
      'Tesco Stores Limited',
      'Oliver Pemberton-Hughes',
      'Priya Patel',
      'Wei Zhang',
      'Acme Widgets Ltd',
      "Sarah O'Connor",
      'Ahmed Khan',
      'Sofia Rossi',
      'Lukas Becker',
      'Gold Coast Bakery',
      'Blue Sky Travel',
      'Draganov',
      'Petrenko',
      'Moreau',
      'Viktor',
      '',
      '  -- ',
    ];
    for (const h of screenAll(unrelated)) {
      expect(h.id, h.name).toBeUndefined();
      expect(h.similarity, h.name).toBeLessThan(0.9);
    }
    const col = utf8Column(['Oksana Petrenko', 'Oksana Petrenko', 'Oksana Petrenko']);
    col.validity = new Uint8Array([0b101]);
    const r = screen.screen(col, 3);
    expect([...r.entry].map((e) => e >= 0)).toEqual([true, false, true]);
    expect(r.similarity[1]).toBe(0);
  });

  it('applies the threshold it is given, and reports the best similarity below it', () => {
    const row = ['Victor Draganow'];
    const strict = screen.screen(utf8Column(row), 1, 0.99);
    const loose = screen.screen(utf8Column(row), 1, 0.9);
    expect(strict.entry[0]).toBe(-1);
    expect(loose.entry[0]).toBeGreaterThanOrEqual(0);
    expect(strict.similarity[0]).toBe(loose.similarity[0]);
    expect(strict.similarity[0]).toBeGreaterThan(9000);
    expect(() => screen.screen(utf8Column(row), 1, 1.5)).toThrow(SluiceError);
  });

  it('screens a column whose Arrow offsets do not start at zero', () => {
    const full = utf8Column(['padding', 'Hamid Reza Tavakoli', 'nobody']);
    const sliced = { ...full, offsets: full.offsets.subarray(1) };
    const r = screen.screen(sliced, 2);
    expect(screen.entryAt(r.entry[0] as number)?.id).toBe('OFAC:36003');
    expect(r.entry[1]).toBe(-1);
  });
});

describe('SanctionsList reloads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sanctions-'));
  const ofsiCopy = join(dir, 'ConList.csv');
  const sdnCopy = join(dir, 'SDN.CSV');
  copyFileSync(OFSI_PATH, ofsiCopy);
  copyFileSync(SDN_PATH, sdnCopy);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads both files, with a version that is the SHA-256 of their bytes', () => {
    const list = SanctionsList.load([ofsiCopy, sdnCopy]);
    expect(list.size).toBe(entries.length);
    expect(list.counts).toEqual({ OFSI: ofsi.length, OFAC: sdn.length });
    expect(list.version).toMatch(/^[0-9a-f]{64}$/);
    expect(list.lastError).toBeNull();
    expect(SanctionsList.load([ofsiCopy, sdnCopy]).version).toBe(list.version);
    expect(SanctionsList.load([sdnCopy]).version).not.toBe(list.version);
  });

  it('refuses to start from a missing, unparseable or empty file', () => {
    expect(() => SanctionsList.load([join(dir, 'missing.csv')])).toThrow(/cannot be read/);
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    expect(() => SanctionsList.load([empty])).toThrow(SluiceError);
    try {
      SanctionsList.load([empty]);
    } catch (e) {
      expect((e as SluiceError).code).toBe('SANCTIONS_LIST_INVALID');
    }
  });

  it('keeps the old list when a reload meets a bad or empty file, and reports the error', () => {
    const list = SanctionsList.load([ofsiCopy, sdnCopy]);
    const events: SanctionsReloadEvent[] = [];
    list.onReload = (e) => events.push(e);
    const before = { size: list.size, version: list.version, loadedAt: list.loadedAt, screen: list.screen };

    writeFileSync(sdnCopy, 'this is not a sanctions list\n');
    const bad = list.reload();
    expect(bad.ok).toBe(false);
    expect(list.size).toBe(before.size);
    expect(list.version).toBe(before.version);
    expect(list.loadedAt).toBe(before.loadedAt);
    expect(list.screen).toBe(before.screen);
    expect(list.lastError).toMatch(/SDN\.CSV/);

    writeFileSync(sdnCopy, '');
    const empty = list.reload();
    expect(empty).toEqual({ ok: false, error: expect.stringMatching(/neither|no names/) });
    expect(list.size).toBe(before.size);

    // OFSI header only: parses, but holds no names.
    writeFileSync(sdnCopy, ofsiText.split('\r\n').slice(0, 2).join('\r\n'));
    expect(list.reload()).toEqual({ ok: false, error: expect.stringMatching(/holds no names/) });

    // The old screen still screens.
    const hit = list.screen.screen(utf8Column(['Oksana Petrenko']), 1);
    expect(list.screen.entryAt(hit.entry[0] as number)?.id).toBe('OFAC:36004');

    expect(events.map((e) => e.ok)).toEqual([false, false, false]);
    expect(events.every((e) => e.version === before.version && e.size === before.size && e.error)).toBe(true);
  });

  it('swaps in the new list when the files are good again, leaving the old screen usable', () => {
    copyFileSync(SDN_PATH, sdnCopy);
    const list = SanctionsList.load([ofsiCopy, sdnCopy]);
    const old = list.screen;
    const events: SanctionsReloadEvent[] = [];
    list.onReload = (e) => events.push(e);
    // Drop PETRENKO from the SDN file.
    writeFileSync(
      sdnCopy,
      sdnText
        .split('\r\n')
        .filter((l) => !l.includes('PETRENKO'))
        .join('\r\n'),
    );
    const r = list.reload();
    expect(r).toEqual({ ok: true, size: entries.length - 2 });
    expect(list.lastError).toBeNull();
    expect(list.screen).not.toBe(old);
    expect(events[0]).toMatchObject({ ok: true, size: entries.length - 2 });
    expect(events[0]?.version).not.toBe(events[0]?.previousVersion);
    const row = utf8Column(['Oksana Petrenko']);
    expect(list.screen.screen(row, 1).entry[0]).toBe(-1);
    expect(old.screen(row, 1).entry[0]).toBeGreaterThanOrEqual(0);
  });
});
