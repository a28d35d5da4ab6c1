/**
 * A fixed-capacity ring buffer of numbers over a Float64Array: pushing past
 * the capacity overwrites the oldest value, so memory never grows.
 */
export class RingBuffer {
  readonly capacity: number;
  private readonly data: Float64Array;
  private head = 0; // index of the next write
  private len = 0;

  constructor(capacity: number, fill = 0) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.data = new Float64Array(capacity);
    for (let i = 0; i < fill && i < capacity; i++) this.push(Number.NaN);
  }

  get length(): number {
    return this.len;
  }

  push(value: number): void {
    this.data[this.head] = value;
    this.head = (this.head + 1) % this.capacity;
    if (this.len < this.capacity) this.len++;
  }

  /** The i-th value, 0 the oldest; NaN when out of range. */
  get(i: number): number {
    if (i < 0 || i >= this.len) return Number.NaN;
    const start = (this.head - this.len + this.capacity) % this.capacity;
    return this.data[(start + i) % this.capacity];
  }

  /** The newest value, NaN when empty. */
  last(): number {
    return this.get(this.len - 1);
  }

  /** Values oldest first, copied into `out` (reused when big enough) or a new array. */
  toArray(out?: Float64Array): Float64Array {
    const res = out && out.length === this.len ? out : new Float64Array(this.len);
    const start = (this.head - this.len + this.capacity) % this.capacity;
    const firstPart = Math.min(this.len, this.capacity - start);
    res.set(this.data.subarray(start, start + firstPart), 0);
    if (firstPart < this.len) res.set(this.data.subarray(0, this.len - firstPart), firstPart);
    return res;
  }

  clear(): void {
    this.head = 0;
    this.len = 0;
  }
}
