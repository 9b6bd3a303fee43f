// C2SP tlog-tiles path codec: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>].
import { LedgerError } from './errors.ts';

/** Tiles are 2^8 hashes wide (C2SP tlog-tiles). */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** A tile address: level -1 denotes an entry bundle (tile/entries). */
export interface TileAddress {
  readonly level: number;
  readonly index: number;
  /** 1..256; 256 is a full tile (no .p suffix). */
  readonly width: number;
}

function encodeIndex(n: number): string {
  const groups: string[] = [];
  let x = n;
  do {
    groups.unshift(String(x % 1000).padStart(3, '0'));
    x = Math.floor(x / 1000);
  } while (x > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

/** Formats a tile path (without leading slash). */
export function formatTilePath(addr: TileAddress): string {
  const lvl = addr.level < 0 ? 'entries' : String(addr.level);
  const base = `tile/${lvl}/${encodeIndex(addr.index)}`;
  return addr.width === TILE_WIDTH ? base : `${base}.p/${addr.width}`;
}

/** Parses a tile path (attacker-controlled). Throws INVALID_ARGUMENT on anything non-canonical. */
export function parseTilePath(path: string): TileAddress {
  const bad = (why: string): never => {
    throw new LedgerError('INVALID_ARGUMENT', `invalid tile path: ${why}`);
  };
  const parts = path.replace(/^\//, '').split('/');
  if (parts[0] !== 'tile' || parts.length < 3) bad('must start with tile/<L>/');
  const lvlText = parts[1]!;
  let level: number;
  if (lvlText === 'entries') level = -1;
  else if (/^(0|[1-9][0-9]?)$/.test(lvlText)) level = Number(lvlText);
  else return bad('bad level');
  let rest = parts.slice(2);
  let width = TILE_WIDTH;
  const pIdx = rest.findIndex((p) => p.endsWith('.p'));
  if (pIdx >= 0) {
    if (pIdx !== rest.length - 2) bad('.p must precede the width');
    const w = rest[rest.length - 1]!;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) >= TILE_WIDTH) bad('bad partial width');
    width = Number(w);
    rest = rest.slice(0, -1);
    rest[rest.length - 1] = rest[rest.length - 1]!.slice(0, -2);
  }
  let index = 0;
  for (let i = 0; i < rest.length; i++) {
    const g = rest[i]!;
    const last = i === rest.length - 1;
    const m = last ? /^[0-9]{3}$/.exec(g) : /^x[0-9]{3}$/.exec(g);
    if (!m) bad('bad index element');
    index = index * 1000 + Number(last ? g : g.slice(1));
  }
  if (!Number.isSafeInteger(index)) bad('index too large');
  if (formatTilePath({ level, index, width }) !== parts.join('/')) bad('non-canonical index');
  return { level, index, width };
}
