export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

const RATIO = 16 / 9;

/** The largest 16:9 tiles for `count` tiles in a `width`×`height` area, as a centred grid (last row centred too). */
function grid(count: number, width: number, height: number, gap: number, offsetLeft = 0, offsetTop = 0): Box[] {
  if (count === 0 || width <= 0 || height <= 0) return [];
  let best = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= count; columns++) {
    const rows = Math.ceil(count / columns);
    const tileWidth = Math.min((width - (columns - 1) * gap) / columns, ((height - (rows - 1) * gap) / rows) * RATIO);
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  const { columns } = best;
  const tileWidth = Math.floor(best.tileWidth);
  const tileHeight = Math.floor(tileWidth / RATIO);
  const rows = Math.ceil(count / columns);
  const top = offsetTop + (height - (rows * tileHeight + (rows - 1) * gap)) / 2;
  const boxes: Box[] = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / columns);
    const inRow = row === rows - 1 ? count - row * columns : columns;
    const left = offsetLeft + (width - (inRow * tileWidth + (inRow - 1) * gap)) / 2;
    boxes.push({ left: Math.round(left + (i % columns) * (tileWidth + gap)), top: Math.round(top + row * (tileHeight + gap)), width: tileWidth, height: tileHeight });
  }
  return boxes;
}

/**
 * Where each tile of the call goes. Without a focused tile: the largest 16:9 grid that fits.
 * With one: it fills the stage but for a strip of the others, on the right in a wide stage and
 * along the bottom in a narrow one. Tiles keep their identity (only their boxes move), so a
 * change of layout never restarts a video.
 */
export function layoutTiles(keys: readonly string[], focused: string | null, width: number, height: number, gap = 8): Map<string, Box> {
  const boxes = new Map<string, Box>();
  const others = focused ? keys.filter((key) => key !== focused) : [...keys];
  if (!focused || !keys.includes(focused)) {
    grid(keys.length, width, height, gap).forEach((box, i) => boxes.set(keys[i]!, box));
    return boxes;
  }
  if (others.length === 0) {
    boxes.set(focused, { left: 0, top: 0, width, height });
    return boxes;
  }
  if (width >= 640) {
    // A column on the right: as wide as a quarter of the stage, narrower if the tiles would not fit in height.
    let stripWidth = Math.min(260, Math.floor(width / 4));
    const fit = (height - (others.length - 1) * gap) / others.length;
    if (stripWidth / RATIO > fit) stripWidth = Math.floor(fit * RATIO);
    boxes.set(focused, { left: 0, top: 0, width: width - stripWidth - gap, height });
    grid(others.length, stripWidth, height, gap, width - stripWidth, 0).forEach((box, i) => boxes.set(others[i]!, box));
    return boxes;
  }
  // A row along the bottom.
  const stripHeight = Math.min(Math.floor(height / 4), 120);
  boxes.set(focused, { left: 0, top: 0, width, height: height - stripHeight - gap });
  grid(others.length, width, stripHeight, gap, 0, height - stripHeight).forEach((box, i) => boxes.set(others[i]!, box));
  return boxes;
}
