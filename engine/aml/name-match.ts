/**
 * Sanctions name matching (docs/aml.md, "Sanctions names") in plain JS: the normalisation and the
 * token-wise Jaro-Winkler of SANCTIONS_MATCH, stated once for the generator (`engine/typologies.ts`
 * keeps background names far from the list with it), the tests and the benchmark's plain-JS
 * baseline. Production screening does not run this: it runs in WASM (wasm/src/sanctions.rs, behind
 * `SanctionsScreen`), which is the ground truth; this module follows it rule for rule, so the two
 * give the same figures.
 *
 * - `normaliseName`: ASCII letters and digits kept (lower case), Latin letters with diacritics
 *   folded to ASCII by the kernel's tables (`É`→`e`, `ß`→`ss`, `Ø`→`o`, `Æ`→`ae`), combining marks
 *   dropped, Greek and Cyrillic capitals lower-cased, other letters kept; anything else separates
 *   tokens; honorifics (`TITLES`) dropped; tokens sorted. At most `MAX_TOKENS` tokens of at most
 *   `MAX_TOKEN_LEN` bytes. A token is its UTF-8 bytes, one char per byte (as the kernel compares
 *   bytes): a folded Latin name reads as usual, other scripts do not.
 * - `tokenSimilarity`: each token of the side with fewer tokens (the row's on a tie), longest first,
 *   takes its best unused partner on the other side; the mean of those Jaro-Winkler scores weighted
 *   by token length. 0 when the pair may not match: no tokens, or a one-token row against a longer
 *   list name.
 */

/** Tokens kept per name; the rest are ignored. */
export const MAX_TOKENS = 16;
/** Bytes kept per token; the rest are cut. */
export const MAX_TOKEN_LEN = 32;

/** Honorifics and titles, dropped from list and row names alike (the kernel's `TITLES`). */
export const TITLES: ReadonlySet<string> = new Set([
  'mr',
  'mrs',
  'ms',
  'miss',
  'mx',
  'dr',
  'sir',
  'lord',
  'lady',
  'dame',
  'prof',
  'hon',
  'rev',
  'sheikh',
  'shaikh',
  'sheik',
  'haji',
  'hajji',
  'hadji',
  'mister',
  'doctor',
  'professor',
  'revd',
]);

/**
 * ASCII folding of U+00C0–U+024F, two chars per code point: `x_` = one letter, `xy` = two, two
 * spaces = separator, `??` = a letter with no ASCII form (kept as it is).
 */
const FOLD_LATIN =
  'a_a_a_a_a_a_aec_e_e_e_e_i_i_i_i_d_n_o_o_o_o_o_  o_u_u_u_u_y_thss' +
  'a_a_a_a_a_a_aec_e_e_e_e_i_i_i_i_d_n_o_o_o_o_o_  o_u_u_u_u_y_thy_' +
  'a_a_a_a_a_a_c_c_c_c_c_c_c_c_d_d_d_d_e_e_e_e_e_e_e_e_e_e_g_g_g_g_' +
  'g_g_g_g_h_h_h_h_i_i_i_i_i_i_i_i_i_i_ijijj_j_k_k_k_l_l_l_l_l_l_l_' +
  'l_l_l_n_n_n_n_n_n_n_n_n_o_o_o_o_o_o_oeoer_r_r_r_r_r_s_s_s_s_s_s_' +
  's_s_t_t_t_t_t_t_u_u_u_u_u_u_u_u_u_u_u_u_w_w_y_y_y_z_z_z_z_z_z_s_' +
  'b_b_??????????c_c_d_d_????????????f_f_g_??????i_k_k_l_????n_n_??' +
  'o_o_????p_p_??????????t_t_t_t_u_u_??v_y_y_z_z_??????????????????' +
  '????????dzdzdzljljljnjnjnja_a_i_i_o_o_u_u_u_u_u_u_u_u_u_u_??a_a_' +
  'a_a_aeaeg_g_g_g_k_k_o_o_o_o_????j_dzdzdzg_g_????n_n_a_a_aeaeo_o_' +
  'a_a_a_a_e_e_e_e_i_i_i_i_o_o_o_o_r_r_r_r_u_u_u_u_s_s_t_t_????h_h_' +
  '??d_????z_z_a_a_e_e_o_o_o_o_o_o_o_o_y_y_l_n_t_j_????a_c_c_l_t_s_' +
  'z_????b_u_??e_e_j_j_????r_r_y_y_';
/** The same for Latin Extended Additional, U+1E00–U+1EFF. */
const FOLD_LATIN_ADD =
  'a_a_b_b_b_b_b_b_c_c_d_d_d_d_d_d_d_d_d_d_e_e_e_e_e_e_e_e_e_e_f_f_' +
  'g_g_h_h_h_h_h_h_h_h_h_h_i_i_i_i_k_k_k_k_k_k_l_l_l_l_l_l_l_l_m_m_' +
  'm_m_m_m_n_n_n_n_n_n_n_n_o_o_o_o_o_o_o_o_p_p_p_p_r_r_r_r_r_r_r_r_' +
  's_s_s_s_s_s_s_s_s_s_t_t_t_t_t_t_t_t_u_u_u_u_u_u_u_u_u_u_v_v_v_v_' +
  'w_w_w_w_w_w_w_w_w_w_x_x_x_x_y_y_z_z_z_z_z_z_h_t_w_y_????s_s_ss??' +
  'a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_e_e_e_e_e_e_e_e_' +
  'e_e_e_e_e_e_e_e_i_i_i_i_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_' +
  'o_o_o_o_u_u_u_u_u_u_u_u_u_u_u_u_u_u_y_y_y_y_y_y_y_y_????????????';

/** A code point as the UTF-8 bytes of a token, one char per byte. */
function utf8(cp: number): string {
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000)
    return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  return String.fromCharCode(
    0xf0 | (cp >> 18),
    0x80 | ((cp >> 12) & 0x3f),
    0x80 | ((cp >> 6) & 0x3f),
    0x80 | (cp & 0x3f),
  );
}

function fromTable(t: string, k: number, cp: number): string | null {
  const a = t[2 * k] as string;
  const b = t[2 * k + 1] as string;
  if (a === ' ') return null;
  if (a === '?') return utf8(cp);
  return b === '_' ? a : a + b;
}

/** What a non-ASCII code point becomes: null ends the token, '' is dropped, else the bytes to add. */
function fold(cp: number): string | null {
  if (cp <= 0xbf) return null; // C1 controls, NBSP, Latin-1 punctuation and symbols
  if (cp <= 0x24f) return fromTable(FOLD_LATIN, cp - 0xc0, cp);
  if (cp >= 0x300 && cp <= 0x36f) return ''; // combining diacritics
  if (cp >= 0x391 && cp <= 0x3a9 && cp !== 0x3a2) return utf8(cp + 0x20); // Greek capitals
  if (cp >= 0x400 && cp <= 0x40f) return utf8(cp + 0x50); // Cyrillic capitals Ѐ–Џ
  if (cp >= 0x410 && cp <= 0x42f) return utf8(cp + 0x20); // Cyrillic capitals А–Я
  if (cp >= 0x1e00 && cp <= 0x1eff) return fromTable(FOLD_LATIN_ADD, cp - 0x1e00, cp);
  if ((cp >= 0x200b && cp <= 0x200d) || cp === 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0xfeff)
    return '';
  if (
    (cp >= 0x2000 && cp <= 0x2bff) ||
    (cp >= 0x3000 && cp <= 0x303f) ||
    (cp >= 0xe000 && cp <= 0xf8ff) ||
    (cp >= 0x1f000 && cp <= 0x1ffff)
  )
    return null;
  if (cp >= 0xff10 && cp <= 0xff19) return String.fromCharCode(cp - 0xff10 + 0x30); // fullwidth digits
  if (cp >= 0xff21 && cp <= 0xff3a) return String.fromCharCode(cp - 0xff21 + 0x61); // fullwidth letters
  if (cp >= 0xff41 && cp <= 0xff5a) return String.fromCharCode(cp - 0xff41 + 0x61);
  if (cp >= 0xff00 && cp <= 0xff65) return null; // fullwidth punctuation
  return utf8(cp);
}

/** The tokens of a name, normalised as the module header says, sorted (by bytes). */
export function normaliseName(name: string): string[] {
  const toks: string[] = [];
  let cur = '';
  const add = (bytes: string) => {
    for (let k = 0; k < bytes.length && cur.length < MAX_TOKEN_LEN && toks.length < MAX_TOKENS; k++)
      cur += bytes[k];
  };
  const end = () => {
    if (cur !== '' && toks.length < MAX_TOKENS && !TITLES.has(cur)) toks.push(cur);
    cur = '';
  };
  for (let i = 0; i < name.length; ) {
    let cp = name.codePointAt(i) as number;
    i += cp > 0xffff ? 2 : 1;
    if (cp < 0x80) {
      if ((cp >= 0x61 && cp <= 0x7a) || (cp >= 0x30 && cp <= 0x39)) add(String.fromCharCode(cp));
      else if (cp >= 0x41 && cp <= 0x5a) add(String.fromCharCode(cp | 0x20));
      else end();
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate is U+FFFD in UTF-8
    const f = fold(cp);
    if (f === null) end();
    else add(f);
  }
  end();
  return toks.sort();
}

/** Jaro similarity of two tokens (at most 64 chars each; longer ones are cut). */
export function jaro(a: string, b: string): number {
  const la = Math.min(a.length, 64);
  const lb = Math.min(b.length, 64);
  if (la === 0 || lb === 0) return la === lb ? 1 : 0;
  const win = Math.max(0, Math.floor(Math.max(la, lb) / 2) - 1);
  const am = new Uint8Array(la);
  const bm = new Uint8Array(lb);
  let m = 0;
  for (let i = 0; i < la; i++) {
    const hi = Math.min(i + win + 1, lb);
    for (let j = Math.max(0, i - win); j < hi; j++) {
      if (!bm[j] && a.charCodeAt(i) === b.charCodeAt(j)) {
        am[i] = 1;
        bm[j] = 1;
        m++;
        break;
      }
    }
  }
  if (m === 0) return 0;
  // Half-transpositions: matched characters of `a` and `b`, in order, that differ.
  let t = 0;
  let j = 0;
  for (let i = 0; i < la; i++) {
    if (!am[i]) continue;
    while (!bm[j]) j++;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) t++;
    j++;
  }
  return (m / la + m / lb + (m - t / 2) / m) / 3;
}

/** Jaro-Winkler: Jaro plus 0.1 × (common prefix, at most 4) × (1 − Jaro). */
export function jaroWinkler(a: string, b: string): number {
  const j = jaro(a, b);
  let l = 0;
  while (l < 4 && l < a.length && l < b.length && a.charCodeAt(l) === b.charCodeAt(l)) l++;
  return j + l * 0.1 * (1 - j);
}

/** Token-wise similarity of a list name's and a row name's tokens (from `normaliseName`). */
export function tokenSimilarity(list: readonly string[], row: readonly string[]): number {
  if (list.length === 0 || row.length === 0 || (row.length < 2 && list.length > 1)) return 0;
  const [short, long] = row.length <= list.length ? [row, list] : [list, row];
  // Matching order: longest first, ties in the given (sorted) order.
  const order = short
    .slice(0, MAX_TOKENS)
    .map((_, k) => k)
    .sort((x, y) => (short[y] as string).length - (short[x] as string).length);
  const used = new Uint8Array(long.length);
  let total = 0;
  let sum = 0;
  for (const k of order) {
    const s = short[k] as string;
    let best = -1;
    let at = 0;
    for (let j = 0; j < long.length; j++) {
      if (used[j]) continue;
      const jw = jaroWinkler(s, long[j] as string);
      if (jw > best) {
        best = jw;
        at = j;
      }
    }
    used[at] = 1;
    sum += s.length * best;
    total += s.length;
  }
  return sum / total;
}

/** The similarity of a list name and a row name (normalised here); 0 when they may not match. */
export function nameSimilarity(listName: string, rowName: string): number {
  return tokenSimilarity(normaliseName(listName), normaliseName(rowName));
}
