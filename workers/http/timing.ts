// Phases of a request for the Server-Timing header: where the time went (decoding in the Worker
// versus waiting for the ingesters to make the push durable).

export class PhaseTimer {
  private last = performance.now();
  private readonly phases: string[] = [];

  /** Closes the phase that started at the previous call (or at construction). */
  end(name: string): void {
    const now = performance.now();
    this.phases.push(`${name};dur=${(now - this.last).toFixed(2)}`);
    this.last = now;
  }

  header(): string {
    return this.phases.join(", ");
  }
}
