// What the client measured of each node's answers, to hedge its releases
// as the Go client does (client/latency.go): an unlock asks the nodes that
// answered fastest lately first, and asks one more when one has not
// answered within its smoothed round trip plus four deviations (as TCP
// derives its retransmission timeout, RFC 6298).

const HEDGE_MIN_MS = 1
const HEDGE_MAX_MS = 1000
/** The hedge delay of a node no release of which was timed yet. */
const HEDGE_UNMEASURED_MS = 100
/** How long a node whose request failed is asked only after the others. */
const FAIL_COOLDOWN_MS = 30_000

/** Latency is one node's release round trips, smoothed, and its last failure. */
export class Latency {
  #releases = 0
  #srtt = 0
  #rttvar = 0
  #failedAt = 0

  /** observe takes a release's round trip (or a lower bound of it: how long the node had not answered). */
  observe(ms: number): void {
    if (this.#releases === 0) {
      this.#srtt = ms
      this.#rttvar = ms / 2
    } else {
      this.#rttvar = (3 * this.#rttvar + Math.abs(this.#srtt - ms)) / 4
      this.#srtt = (7 * this.#srtt + ms) / 8
    }
    this.#releases++
    this.#failedAt = 0
  }

  /** fail notes that a request to the node failed at now. */
  fail(now: number): void {
    this.#failedAt = now
  }

  /** hedgeAfterMs is how long to wait for the node's answer before asking another node too. */
  hedgeAfterMs(): number {
    if (this.#releases === 0) return HEDGE_UNMEASURED_MS
    return Math.min(Math.max(this.#srtt + 4 * this.#rttvar, HEDGE_MIN_MS), HEDGE_MAX_MS)
  }

  /**
   * before reports whether this node is asked before other: nodes that did
   * not fail lately first; of those, one never timed first (so that every
   * node is tried and timed), then the fastest.
   */
  before(other: Latency, now: number): boolean {
    const failed = this.#failed(now)
    if (failed !== other.#failed(now)) return !failed
    const measured = this.#releases > 0
    if (measured !== other.#releases > 0) return !measured
    return this.#srtt < other.#srtt
  }

  #failed(now: number): boolean {
    return this.#failedAt !== 0 && now - this.#failedAt < FAIL_COOLDOWN_MS
  }
}

/** rankNodes orders items as an unlock asks their nodes (a stable sort by Latency.before). */
export function rankNodes<T>(items: T[], lat: (t: T) => Latency, now: number): T[] {
  return items
    .map((t, i) => ({ t, i }))
    .sort((a, b) => (lat(a.t).before(lat(b.t), now) ? -1 : lat(b.t).before(lat(a.t), now) ? 1 : a.i - b.i))
    .map((x) => x.t)
}
