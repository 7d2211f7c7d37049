// Why guest addresses may be missing, for the operator: a bounded list, so a lease file with a
// million bad entries cannot blow up the document that reports it.

export const MAX_PROBLEMS = 20;

export class AddressProblems {
  private readonly kept: string[] = [];
  private dropped = 0;

  constructor(private readonly max = MAX_PROBLEMS) {}

  add(message: string): void {
    if (this.kept.length < this.max) this.kept.push(message);
    else this.dropped++;
  }

  /** Total number reported, kept or not. */
  get count(): number {
    return this.kept.length + this.dropped;
  }

  /** The first `max` messages in the order they were reported, plus one line counting the rest. */
  list(): string[] {
    return this.dropped ? [...this.kept, `${this.dropped} more problems not listed`] : [...this.kept];
  }
}

/** A value quoted for a message, cut short: a message must stay small whatever the input holds. */
export function quote(v: unknown): string {
  const s = v === undefined ? "nothing" : JSON.stringify(v) ?? String(v);
  return s.length > 48 ? `${s.slice(0, 45)}...` : s;
}
