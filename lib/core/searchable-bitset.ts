/**
 * A fixed-size set of small integers (0 … size-1) that finds the next
 * member at or after any index in O(log₃₂ size) word operations: level 0
 * holds one bit per integer, and each level above one bit per word of the
 * level below ("that word is not empty"), up to a single word. For 2²⁴
 * integers that is five levels, about 2 MiB in all.
 */
export class SearchableBitset {
  readonly size: number;
  /** levels[0] is the leaves; the last level is one word. */
  readonly #levels: Uint32Array[] = [];
  #count = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`bitset size must be a non-negative integer, got ${size}`);
    this.size = size;
    let words = Math.max(1, Math.ceil(size / 32));
    for (;;) {
      this.#levels.push(new Uint32Array(words));
      if (words === 1) break;
      words = Math.ceil(words / 32);
    }
  }

  get count(): number {
    return this.#count;
  }

  has(i: number): boolean {
    return i >= 0 && i < this.size && (this.#levels[0][i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** Adds `i`; true if it was not there. */
  add(i: number): boolean {
    this.#check(i);
    if (this.has(i)) return false;
    this.#count++;
    for (const words of this.#levels) {
      const w = i >>> 5;
      const before = words[w];
      words[w] = before | (1 << (i & 31));
      if (before !== 0) break; // the levels above already know this word is not empty
      i = w;
    }
    return true;
  }

  /** Removes `i`; true if it was there. */
  delete(i: number): boolean {
    this.#check(i);
    if (!this.has(i)) return false;
    this.#count--;
    for (const words of this.#levels) {
      const w = i >>> 5;
      words[w] &= ~(1 << (i & 31));
      if (words[w] !== 0) break; // the word still has members: the levels above stay as they are
      i = w;
    }
    return true;
  }

  /** Adds every integer of the set. */
  fill(): void {
    let n = this.size;
    for (const words of this.#levels) {
      words.fill(0xffffffff, 0, n >>> 5);
      if (n & 31) words[n >>> 5] = (1 << (n & 31)) - 1;
      n = Math.ceil(n / 32);
    }
    this.#count = this.size;
  }

  /** The smallest member ≥ `from`, or -1. */
  nextAtOrAfter(from: number): number {
    if (from < 0) from = 0;
    if (from >= this.size) return -1;
    let level = 0;
    let i = from;
    // Up: the first level whose word holding `i` has a member at or after it.
    for (;;) {
      const words = this.#levels[level];
      const w = i >>> 5;
      if (w >= words.length) return -1;
      const rest = words[w] & (-1 << (i & 31));
      if (rest !== 0) {
        i = (w << 5) + lowestBit(rest);
        break;
      }
      if (++level === this.#levels.length) return -1;
      i = w + 1; // the next word, as an index one level up
    }
    // Down: the lowest member under that bit.
    while (level > 0) {
      level--;
      i = (i << 5) + lowestBit(this.#levels[level][i]);
    }
    return i;
  }

  /** The first member at or after `from`, wrapping around to 0; -1 when empty. */
  nextCyclic(from: number): number {
    if (this.#count === 0) return -1;
    const found = this.nextAtOrAfter(from);
    return found >= 0 ? found : this.nextAtOrAfter(0);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`bitset index ${i} outside 0..${this.size - 1}`);
  }
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}
